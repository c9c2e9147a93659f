"""Baselines that need no model: identity and histogram matching to a class's images."""

from __future__ import annotations

import numpy as np


def class_quantiles(images: np.ndarray, levels: int = 4096) -> np.ndarray:
    """A class's pooled grey-level distribution summarised by ``levels`` quantiles.

    Args:
        images: (N, 1, H, W) or (N, H, W) float in [0, 1]: the class's training images.
        levels: number of evenly spaced quantiles kept.

    Returns:
        (levels,) float32, sorted: a reference whose histogram is the pool's (to 1/levels
        in probability), so matching to it costs one image, not the whole pool.
    """
    return np.quantile(np.asarray(images, np.float64).ravel(),
                       (np.arange(levels) + 0.5) / levels).astype(np.float32)


def histogram_match(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each image's grey levels mapped so its histogram matches ``reference``'s
    (scikit-image ``match_histograms``: cumulative-distribution matching).

    Args:
        images: (N, 1, H, W) float32 in [0, 1].
        reference: float array of any shape, e.g. ``class_quantiles`` of the target class.

    Returns:
        (N, 1, H, W) float32 in [0, 1].
    """
    from skimage.exposure import match_histograms

    out = np.empty_like(images, dtype=np.float32)
    ref = np.asarray(reference).reshape(1, -1)  # same number of dimensions as one image
    for k, img in enumerate(images):
        out[k, 0] = match_histograms(img[0], ref)
    return np.clip(out, 0.0, 1.0)
