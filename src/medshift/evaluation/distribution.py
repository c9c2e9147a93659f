"""Realism scores between two sets of feature vectors (real: the target class, fake: the
translations). Pure functions of (N, D) arrays; feature extraction lives in features.py.

- Fréchet distance (Heusel et al. 2017) and KID (Bińkowski et al. 2018) are torchmetrics'
  FrechetInceptionDistance / KernelInceptionDistance, given a feature module that passes the
  precomputed features through (features.ClassifierFeatures is the module on images).
- precision / recall / density / coverage: k-NN manifolds of Naeem et al. (2020),
  "Reliable fidelity and diversity metrics for generative models".
- A Gaussian-kernel MMD: the statistic CMMD (Jayasumana et al. 2024) computes on CLIP
  embeddings, here in the offline feature space; named for what it is, not CMMD.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn


class _Precomputed(nn.Module):
    """A torchmetrics ``feature`` module for features already extracted: the identity."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _as_tensor(x: np.ndarray, name: str) -> torch.Tensor:
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} must be (N >= 2, D) features, got shape {x.shape}")
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    d^2 = ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2))  (torchmetrics FID math).

    Args:
        real: (N, D) features of the reference images.
        fake: (M, D) features of the evaluated images, same D.

    Returns:
        d^2 in squared feature units (0 for identical statistics).
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    r, f = _as_tensor(real, "real"), _as_tensor(fake, "fake")
    metric = FrechetInceptionDistance(feature=_Precomputed(r.shape[1])).double()
    metric.update(r, real=True)
    metric.update(f, real=False)
    return float(metric.compute())


def kernel_inception_distance(real: np.ndarray, fake: np.ndarray, subsets: int = 100,
                              subset_size: int | None = None, seed: int = 0
                              ) -> tuple[float, float]:
    """KID: the unbiased MMD^2 with the cubic kernel k(x, y) = (x.y / D + 1)^3, averaged over
    random subsets (torchmetrics KernelInceptionDistance).

    Args:
        real: (N, D) reference features.
        fake: (M, D) evaluated features.
        subsets: number of random subsets.
        subset_size: samples per subset; None: min(N, M) (small test sets).
        seed: seeds the subset draws, so a run is reproducible.

    Returns:
        (mean, std) over subsets, in kernel units.
    """
    from torchmetrics.image.kid import KernelInceptionDistance

    r, f = _as_tensor(real, "real"), _as_tensor(fake, "fake")
    size = subset_size or min(len(r), len(f))
    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # its notice that features are buffered
        metric = KernelInceptionDistance(feature=_Precomputed(r.shape[1]), subsets=subsets,
                                         subset_size=size).double()
        metric.update(r, real=True)
        metric.update(f, real=False)
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def _kth_neighbour(x: np.ndarray, k: int) -> np.ndarray:
    # column 0 of the sorted self-distances is the point itself
    return np.sort(_distances(x, x), axis=1)[:, k]


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage (Naeem et al. 2020) with k-NN balls.

    With B(x, r_k(x)) the ball reaching a point's k-th nearest neighbour in its own set:
    precision = share of fakes inside some real ball; recall = share of reals inside some
    fake ball; density = (1 / kM) sum_fakes #real balls containing it; coverage = share of
    reals whose ball contains at least one fake (strictly closer than the radius).

    Args:
        real: (N, D) reference features, N > k.
        fake: (M, D) evaluated features, M > k.
        k: neighbourhood size.

    Returns:
        {"precision", "recall", "density", "coverage"}; all in [0, 1] except density (>= 0,
        about 1 when fakes are distributed like the reals).

    Raises:
        ValueError: a set has k or fewer points.
    """
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"prdc needs more than k={k} points per set, got {len(real)} real "
                         f"and {len(fake)} fake")
    r_real, r_fake = _kth_neighbour(real, k), _kth_neighbour(fake, k)
    d = _distances(real, fake)  # (N, M)
    inside_real = d <= r_real[:, None]
    return {
        "precision": float(inside_real.any(axis=0).mean()),
        "recall": float((d <= r_fake[None, :]).any(axis=1).mean()),
        "density": float(inside_real.sum() / (k * len(fake))),
        "coverage": float((d.min(axis=1) < r_real).mean()),
    }


def median_bandwidth(x: np.ndarray) -> float:
    """Median pairwise Euclidean distance of a set (the usual Gaussian-kernel bandwidth)."""
    d = _distances(np.asarray(x, np.float64), np.asarray(x, np.float64))
    return float(np.median(d[np.triu_indices(len(x), 1)]))


def gaussian_mmd(real: np.ndarray, fake: np.ndarray, bandwidth: float) -> float:
    """Unbiased MMD^2 with the Gaussian kernel k(x, y) = exp(-||x - y||^2 / (2 s^2)).

    MMD^2 = E k(r, r') + E k(f, f') - 2 E k(r, f), the within-set means over distinct pairs
    (Gretton et al. 2012, eq. 3); can be slightly negative for equal distributions.

    Args:
        real: (N, D) reference features, N >= 2.
        fake: (M, D) evaluated features, M >= 2.
        bandwidth: s, in feature units (> 0).
    """
    if bandwidth <= 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    r, f = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if len(r) < 2 or len(f) < 2:
        raise ValueError("gaussian_mmd needs at least 2 points per set")
    kern = lambda a, b: np.exp(-_distances(a, b) ** 2 / (2 * bandwidth**2))  # noqa: E731
    k_rr, k_ff = kern(r, r), kern(f, f)
    n, m = len(r), len(f)
    within_r = (k_rr.sum() - np.trace(k_rr)) / (n * (n - 1))
    within_f = (k_ff.sum() - np.trace(k_ff)) / (m * (m - 1))
    return float(within_r + within_f - 2 * kern(r, f).mean())
