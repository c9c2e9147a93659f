"""The registry gate's scores: a modest, fixed slice of the benchmark that two model versions
are scored on in one run (the current production version is re-scored, never read back).

Slice: the first ``per_class`` test images (image_id order) of each source-domain class,
each translated to every target-domain class at one tau. Scores:

- ``ssim``: mean SSIM to the aligned true target inside the anatomy region (pixels exposed
  in both fields; ``structure.anatomy_mask``), over every (image, target) with a true target;
- ``fd``: Fréchet distance between the translations to each target class and that class's
  reference features (classifier space, ``reference.ReferenceStats``), averaged over target
  classes. With a few dozen images per class it is biased upwards, equally for both
  versions scored on the same slice, so only comparisons within one run are meaningful.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from medshift.evaluation.distribution import frechet_distance
from medshift.evaluation.features import judge
from medshift.evaluation.reference import ReferenceStats
from medshift.evaluation.structure import anatomy_mask, structure_scores
from medshift.models.classifier import DomainClassifier
from medshift.models.export import MedShiftModel
from medshift.translation.translate import TranslationRequest, translate_to_targets


@dataclass(frozen=True)
class GateSet:
    """The gate's images.

    Attributes:
        images: (N, 1, H, W) float32 in [0, 1], the source images.
        sources: N source class ids.
        keys: N image ids (seed the decoder noise per image).
        targets: T target class ids.
        truth: (N, T, 1, H, W) float32 aligned true targets (NaN where none exists).
        masks: (N, T, H, W) bool anatomy regions (source field and target field).
    """

    images: np.ndarray
    sources: tuple[str, ...]
    keys: tuple[str, ...]
    targets: tuple[str, ...]
    truth: np.ndarray
    masks: np.ndarray


@dataclass(frozen=True)
class GateScores:
    """One model version's scores on a GateSet: ``ssim`` (None without true targets),
    ``fd`` (squared feature units), ``outputs`` = N x T translations scored."""

    ssim: float | None
    fd: float
    outputs: int

    def to_dict(self) -> dict:
        return asdict(self)


def gate_set(rows: pd.DataFrame, images: np.ndarray, fields: np.ndarray,
             domains: dict[str, str], source_domain: str, target_domain: str,
             per_class: int) -> GateSet:
    """The gate's slice of a split.

    Args:
        rows: the split's manifest rows (image_id, subject_id, view, class_name), aligned
            with ``images`` and ``fields``.
        images: (M, 1, H, W) float32 in [0, 1].
        fields: (M, H, W) bool fields of view (all True where unknown).
        domains: class id -> domain.
        source_domain, target_domain: the translated direction.
        per_class: source images per source class (the first ones in image_id order).

    Raises:
        ValueError: no source or no target class, or a source class without test images.
    """
    sources = [c for c, d in domains.items() if d == source_domain]
    targets = tuple(c for c, d in domains.items() if d == target_domain)
    if not sources or not targets:
        raise ValueError(f"no {source_domain} -> {target_domain} classes in {domains}")
    order = rows.reset_index(drop=True).sort_values("image_id", kind="stable")
    chosen = []
    for cls in sources:
        mine = order.index[order["class_name"] == cls][:per_class]
        if len(mine) == 0:
            raise ValueError(f"the gate needs test images of class {cls}; the split has none")
        chosen += list(mine)
    key = {(s, v, c): k for k, (s, v, c) in enumerate(
        zip(rows["subject_id"], rows["view"], rows["class_name"], strict=True))}
    n, h, w = len(chosen), images.shape[2], images.shape[3]
    truth = np.full((n, len(targets), 1, h, w), np.nan, np.float32)
    masks = np.zeros((n, len(targets), h, w), bool)
    for i, k in enumerate(chosen):
        for j, t in enumerate(targets):
            m = key.get((rows["subject_id"].iat[k], rows["view"].iat[k], t))
            if m is not None:
                truth[i, j] = images[m]
                masks[i, j] = anatomy_mask(fields[k], fields[m])
    return GateSet(images[chosen], tuple(rows["class_name"].iloc[chosen]),
                   tuple(rows["image_id"].iloc[chosen]), targets, truth, masks)


def translations(model: MedShiftModel, gs: GateSet, request: TranslationRequest
                 ) -> np.ndarray:
    """(N, T, 1, H, W) float32: every gate image translated to every target class,
    inverting each source class's images once (``translate_to_targets``)."""
    out = np.empty((len(gs.images), len(gs.targets), *gs.images.shape[1:]), np.float32)
    targets = [model.label(t) for t in gs.targets]
    sources = np.array(gs.sources)
    for cls in dict.fromkeys(gs.sources):
        rows = np.flatnonzero(sources == cls)
        outs, _ = translate_to_targets(model, gs.images[rows], [model.label(cls)] * len(rows),
                                       targets, request, [gs.keys[r] for r in rows])
        for j, t in enumerate(targets):
            out[rows, j] = outs[t]
    return out


def score(outputs: np.ndarray, gs: GateSet, classifier: DomainClassifier,
          reference: ReferenceStats, bf16: bool = False) -> GateScores:
    """GateScores of translations (N, T, 1, H, W) of ``gs`` (see the module docstring)."""
    n, t = outputs.shape[:2]
    flat = outputs.reshape(n * t, *outputs.shape[2:])
    truth = gs.truth.reshape(flat.shape)
    has = ~np.isnan(truth).any(axis=(1, 2, 3))
    ssim = None
    if has.any():
        values = structure_scores(flat[has], truth[has],
                                  gs.masks.reshape(n * t, *gs.masks.shape[2:])[has])["ssim"]
        ssim = float(np.nanmean(values))
    feats = reference.normalise(judge(classifier, flat, bf16=bf16).features)
    per_target = feats.reshape(n, t, -1)
    fd = float(np.mean([frechet_distance(reference.features[c], per_target[:, j])
                        for j, c in enumerate(gs.targets)]))
    return GateScores(ssim, fd, n * t)


def floor_reasons(candidate: GateScores, min_ssim: float, max_fd: float) -> dict[str, str]:
    """Failed absolute floors of a first version: {reason key: one-line reason}."""
    reasons = {}
    if candidate.ssim is not None and not candidate.ssim >= min_ssim:
        reasons["floor_ssim"] = f"anatomy SSIM {candidate.ssim:.4f} < floor {min_ssim}"
    if not candidate.fd <= max_fd:
        reasons["floor_fd"] = f"Frechet distance {candidate.fd:.2f} > floor {max_fd}"
    return reasons


def gate_reasons(candidate: GateScores, production: GateScores, ssim_margin: float,
                 fd_gain: float) -> dict[str, str]:
    """Failed comparisons with production: SSIM not lower by more than ``ssim_margin``, and
    FD at most ``(1 - fd_gain)`` times production's. {reason key: one-line reason}."""
    reasons = {}
    if (candidate.ssim is not None and production.ssim is not None
            and not candidate.ssim >= production.ssim - ssim_margin):
        reasons["ssim"] = (f"anatomy SSIM {candidate.ssim:.4f} is more than {ssim_margin} "
                           f"below production's {production.ssim:.4f}")
    limit = (1 - fd_gain) * production.fd
    if not candidate.fd <= limit:
        reasons["fd"] = (f"Frechet distance {candidate.fd:.2f} is not {fd_gain:.0%} below "
                         f"production's {production.fd:.2f} (needs <= {limit:.2f})")
    return reasons


def sanity_reasons(first: np.ndarray, second: np.ndarray, shape: tuple[int, ...]
                   ) -> dict[str, str]:
    """Failed sanity checks of two identical calls' outputs: finite values in [0, 1], the
    input's shape, equal results. {reason key: one-line reason}."""
    reasons = {}
    first, second = np.asarray(first), np.asarray(second)
    if first.shape != tuple(shape):
        reasons["sanity_shape"] = f"output shape {first.shape}, input shape {tuple(shape)}"
        return reasons
    if not np.isfinite(first).all():
        reasons["sanity_finite"] = (f"{int((~np.isfinite(first)).sum())} non-finite output "
                                    f"values")
    elif first.min() < 0 or first.max() > 1:
        reasons["sanity_range"] = (f"outputs span [{first.min():.3g}, {first.max():.3g}], "
                                   f"not [0, 1]")
    if not np.array_equal(first, second, equal_nan=True):
        diff = np.nanmax(np.abs(first.astype(np.float64) - second))
        reasons["sanity_determinism"] = (f"two identical calls differ (max |diff| "
                                         f"{diff if math.isfinite(diff) else 'nan'})")
    return reasons
