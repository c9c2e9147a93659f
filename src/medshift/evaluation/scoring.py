"""Per-image scores of every output, then per (pair, method) aggregates with the
distribution metrics against the target class's reference statistics."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch

from medshift.config.evaluate import EvaluateConfig
from medshift.evaluation.benchmark import Outputs, TestImages
from medshift.evaluation.distribution import (
    frechet_distance,
    gaussian_mmd,
    kernel_inception_distance,
    prdc,
)
from medshift.evaluation.features import Judged, judge
from medshift.evaluation.perceptual import lpips_distance, lpips_unavailable
from medshift.evaluation.reference import ReferenceStats
from medshift.evaluation.structure import anatomy_mask, structure_regions
from medshift.evaluation.texture import highpass_radial_nps, nps_distance, texture_mask
from medshift.models.classifier import DomainClassifier
from medshift.precision import use_bf16

CHUNK = 512  # outputs per step: bounds the gathered references and SSIM maps in memory


def score_images(outputs: Outputs, test: TestImages, classifier: DomainClassifier,
                 classes: tuple[str, ...], cfg: EvaluateConfig
                 ) -> tuple[pd.DataFrame, np.ndarray, list[np.ndarray | None]]:
    """Per output: structure against the source (whole image), against the true target and
    its noise-free render (whole image and anatomy region), LPIPS when available, the
    classifier's verdict, and the high-pass NPS inside the anatomy's texture region.

    Returns:
        (scores, features (M, D), NPS curves (M entries, None where no ROI fits)); score
        columns for rows without a true target are NaN.
    """
    meta, images = outputs.meta, outputs.images
    src, tgt = meta["src"].to_numpy(), meta["tgt"].to_numpy()
    has_target = tgt >= 0
    tpos = np.where(has_target, tgt, src)  # placeholder, blanked below
    lpips_reason = lpips_unavailable(cfg.lpips_torch_home, cfg.lpips_net)
    columns: dict[str, list[np.ndarray]] = {}
    curves: list[np.ndarray | None] = []
    for lo in range(0, len(meta), CHUNK):
        sl = slice(lo, lo + CHUNK)
        out, s, t = images[sl], src[sl], tpos[sl]
        anatomy = anatomy_mask(test.fields[s], test.fields[t])
        whole_and_anatomy = {"": None, "_anatomy": anatomy}
        parts = {"source": structure_regions(out, test.images[s], {"": None})[""]}
        for name, ref in (("target", test.images[t]), ("clean", test.clean[t])):
            for suffix, scores in structure_regions(out, ref, whole_and_anatomy).items():
                parts[name + suffix] = scores
        for name, scores in parts.items():
            for metric, values in scores.items():
                columns.setdefault(f"{metric}_{name}", []).append(values)
        if lpips_reason is None:
            lpips_home = str(cfg.lpips_torch_home)  # set: lpips_reason says why otherwise
            columns.setdefault("lpips_source", []).append(
                lpips_distance(out, test.images[s], lpips_home, cfg.lpips_net))
            columns.setdefault("lpips_target", []).append(
                lpips_distance(out, test.images[t], lpips_home, cfg.lpips_net))
        curves += [_nps(img[0], m, cfg.nps_roi) for img, m in zip(out, anatomy, strict=True)]
    scores = pd.DataFrame({k: np.concatenate(v) for k, v in columns.items()})
    target_cols = [c for c in scores if "target" in c or "clean" in c]
    scores.loc[~has_target, target_cols] = np.nan
    judged = _judge(outputs, test, classifier, cfg.batch_size, judge_bf16(cfg))
    label = {c: k for k, c in enumerate(classes)}
    scores["predicted"] = judged.predicted
    scores["hit"] = judged.predicted == meta["target"].map(label).to_numpy()
    return scores, judged.features, curves


def _nps(img: np.ndarray, region: np.ndarray, roi: int) -> np.ndarray | None:
    try:
        return highpass_radial_nps(img, texture_mask(img) & region, roi)[1]
    except ValueError:  # no ROI fits the texture region
        return None


def judge_bf16(cfg: EvaluateConfig) -> bool:
    """The evaluate.bf16 setting resolved for the CPU (the stage runs the judge there)."""
    return use_bf16(cfg.bf16, torch.device("cpu"))


def _judge(outputs: Outputs, test: TestImages, classifier: DomainClassifier, batch: int,
           bf16: bool) -> Judged:
    """Features and verdicts; identity and ceiling rows reuse one pass over the test set."""
    meta = outputs.meta
    feats = np.empty((len(meta), 0))
    pred = np.empty(len(meta), np.int64)
    for origin, positions in (("own", None), ("test", "src"), ("recon", "tgt")):
        rows = (meta["origin"] == origin).to_numpy()
        if not rows.any():
            continue
        if positions is None:
            j = judge(classifier, outputs.images[rows], batch, bf16)
        else:
            base = test.images if origin == "test" else test.recon
            assert base is not None  # rows of origin "recon" exist only with reconstructions
            need = np.unique(meta.loc[rows, positions])
            once = judge(classifier, base[need], batch, bf16)
            where = np.searchsorted(need, meta.loc[rows, positions].to_numpy())
            j = Judged(once.features[where], once.predicted[where])
        if feats.shape[1] == 0:
            feats = np.empty((len(meta), j.features.shape[1]))
        feats[rows], pred[rows] = j.features, j.predicted
    return Judged(feats, pred)


def test_accuracy(test: TestImages, classifier: DomainClassifier, batch: int, bf16: bool
                  ) -> np.ndarray:
    """(N,) bool: the classifier names each test image's own class (the hit-rate ceiling)."""
    verdict = judge(classifier, test.images, batch, bf16).predicted
    return verdict == test.rows["label"].to_numpy()


def aggregate(outputs: Outputs, scores: pd.DataFrame, features: np.ndarray,
              curves: list[np.ndarray | None], reference: ReferenceStats,
              test_correct: np.ndarray, cfg: EvaluateConfig) -> pd.DataFrame:
    """One row per (source, target, config): mean per-image scores, class hit rate and its
    ceiling, Fréchet distance, KID, PRDC, Gaussian MMD and NPS distance to the target
    class's reference, seconds per image. ``features`` (M, D) are the raw classifier
    features; they are normalised as the reference's were."""
    meta = outputs.meta
    features = reference.normalise(features)
    per_image = [c for c in scores if c not in ("predicted", "hit")]
    rows = []
    for (source, target, config), g in meta.groupby(["source", "target", "config"],
                                                    sort=False):
        i = g.index.to_numpy()
        ref = reference.features[target]  # already normalised, like ``features``
        row = {"source": source, "target": target, "config": config,
               "method": g["method"].iat[0], "tau": g["tau"].iat[0], "n": len(i),
               "seconds": float(g["seconds"].mean())}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
            row |= {c: float(np.nanmean(scores[c].to_numpy()[i])) for c in per_image}
        row["class_hit"] = float(scores["hit"].to_numpy()[i].mean())
        tgt = g["tgt"].to_numpy()
        row["class_hit_ceiling"] = (float(test_correct[tgt[tgt >= 0]].mean())
                                    if (tgt >= 0).any() else np.nan)
        row |= _realism(ref, features[i], reference.bandwidth[target], cfg)
        valid = [curves[k] for k in i if curves[k] is not None]
        row["nps"] = (nps_distance(_mean_curve(valid), reference.nps[target])
                      if valid and len(reference.nps[target]) else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def _realism(ref: np.ndarray, fake: np.ndarray, bandwidth: float, cfg: EvaluateConfig
             ) -> dict[str, float]:
    if len(fake) < 2:
        return {}
    kid, kid_std = kernel_inception_distance(ref, fake, cfg.kid_subsets, seed=cfg.seed)
    out = {"fd": frechet_distance(ref, fake), "kid": kid, "kid_std": kid_std,
           "mmd": gaussian_mmd(ref, fake, bandwidth)}
    if min(len(ref), len(fake)) > cfg.prdc_k:
        out |= prdc(ref, fake, cfg.prdc_k)
    return out


def _mean_curve(curves: list[np.ndarray]) -> np.ndarray:
    length = min(len(c) for c in curves)
    return np.mean([c[:length] for c in curves], axis=0)


def class_curves(outputs: Outputs, curves: list[np.ndarray | None], configs: list[str]
                 ) -> dict[tuple[str, str], np.ndarray]:
    """Mean NPS curve per (target class, config), pooled over source classes."""
    meta = outputs.meta
    out = {}
    for (target, config), g in meta[meta["config"].isin(configs)].groupby(["target",
                                                                           "config"]):
        valid = [curves[k] for k in g.index if curves[k] is not None]
        if valid:
            out[(target, config)] = _mean_curve(valid)
    return out
