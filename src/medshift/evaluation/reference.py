"""Reference statistics of each class, computed once and cached (a DVC output): features
of its reference images in the classifier's space, their MMD bandwidth and mean texture
spectrum, and the grey-level quantiles histogram matching maps to."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medshift.evaluation.baselines import class_quantiles
from medshift.evaluation.distribution import median_bandwidth
from medshift.evaluation.features import judge
from medshift.evaluation.texture import mean_highpass_nps, texture_mask
from medshift.io import write_npz
from medshift.models.classifier import DomainClassifier


@dataclass(frozen=True)
class ReferenceStats:
    """Per class id: features (N_c, D), MMD bandwidth, mean high-pass NPS (F,) and grey-level
    quantiles (L,); plus the feature normalisation (center (D,), scale) every evaluated
    feature goes through, which the stored features already had."""

    classes: tuple[str, ...]
    features: dict[str, np.ndarray]
    bandwidth: dict[str, float]
    nps: dict[str, np.ndarray]
    quantiles: dict[str, np.ndarray]
    center: np.ndarray
    scale: float

    def normalise(self, features: np.ndarray) -> np.ndarray:
        """(N, D) raw classifier features -> the space the reference lives in."""
        return (features - self.center) / self.scale

    def save(self, path: Path) -> None:
        """One .npz (atomic write); the class list rides along as JSON."""
        arrays = {"classes": np.array(json.dumps(list(self.classes))),
                  "center": self.center, "scale": np.array(self.scale)}
        for c in self.classes:
            arrays |= {f"features/{c}": self.features[c], f"nps/{c}": self.nps[c],
                       f"quantiles/{c}": self.quantiles[c],
                       f"bandwidth/{c}": np.array(self.bandwidth[c])}
        write_npz(path, **arrays)

    @classmethod
    def load(cls, path: Path | str) -> ReferenceStats:
        with np.load(path) as data:
            classes = tuple(json.loads(str(data["classes"])))
            get = lambda kind: {c: data[f"{kind}/{c}"] for c in classes}  # noqa: E731
            return cls(classes, get("features"),
                       {c: float(v) for c, v in get("bandwidth").items()}, get("nps"),
                       get("quantiles"), data["center"], float(data["scale"]))


def build_reference(classifier: DomainClassifier, classes: tuple[str, ...],
                    images: np.ndarray, labels: np.ndarray, fields: np.ndarray,
                    hist_images: np.ndarray, hist_labels: np.ndarray, roi: int = 32,
                    bandwidth: float | None = None, bf16: bool = False) -> ReferenceStats:
    """Statistics of every class.

    Args:
        classifier: the feature network / judge.
        classes: class ids; label k is classes[k].
        images: (N, 1, H, W) float32 in [0, 1], the realism reference images.
        labels: (N,) their class labels.
        fields: (N, H, W) bool, their fields of view (texture is measured inside).
        hist_images, hist_labels: the images histogram matching maps to, and labels.
        roi: NPS ROI side.
        bandwidth: fixed MMD bandwidth; None: each class's median pairwise distance.
        bf16: the classifier under bf16 autocast (must match the evaluation's setting).

    Raises:
        ValueError: a class has fewer than two reference images.
    """
    feats, nps, bw, quant = {}, {}, {}, {}
    raw = judge(classifier, images, bf16=bf16).features
    # centred on the pooled reference and scaled to unit RMS per coordinate: the raw
    # features of off-class images reach norms where KID's cubic kernel reads 1e4-1e5
    center = raw.mean(0)
    scale = float(np.sqrt(((raw - center) ** 2).mean())) or 1.0
    for k, c in enumerate(classes):
        idx = np.flatnonzero(labels == k)
        if len(idx) < 2:
            raise ValueError(f"class {c}: {len(idx)} reference images; at least 2 needed")
        feats[c] = (raw[idx] - center) / scale
        bw[c] = float(bandwidth) if bandwidth else median_bandwidth(feats[c])
        curve = mean_highpass_nps(images[idx], [texture_mask(images[i, 0]) & fields[i]
                                                for i in idx], roi)
        nps[c] = np.zeros(0) if curve is None else curve
        hist = hist_images[hist_labels == k]
        quant[c] = class_quantiles(hist if len(hist) else images[idx])
    return ReferenceStats(tuple(classes), feats, bw, nps, quant, center, scale)
