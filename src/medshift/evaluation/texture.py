"""Noise-power spectra and edge MTF (IEC 62220-1-1 style; SIMULATOR.md §7).

Frequencies are in cycles per mm when ``pixel_mm`` is given, else cycles per pixel.
"""

from __future__ import annotations

import numpy as np

from medshift.signal import IMMERKAER, texture_mask

__all__ = ["highpass_radial_nps", "mtf50", "mtf_edge", "noise_sigma", "nps2d", "nps_centroid",
           "radial_nps", "texture_mask"]


def _detrend_basis(roi: int) -> np.ndarray:
    yy, xx = np.mgrid[0:roi, 0:roi] / roi
    return np.stack([b.ravel() for b in (np.ones_like(xx), xx, yy, xx * xx, yy * yy, xx * yy)], 1)


def nps2d(img: np.ndarray, roi: int = 64, step: int = 32, pixel_mm: float = 1.0,
          mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """2-D NPS (signal^2 mm^2), fftshifted, from second-order-detrended ROIs inside ``mask``.

    Returns:
        (nps (roi, roi), frequencies (roi,), number of ROIs used).
    """
    basis = _detrend_basis(roi)
    height, width = img.shape
    corners = [(y, x) for y in range(0, height - roi + 1, step)
               for x in range(0, width - roi + 1, step)
               if mask is None or mask[y:y + roi, x:x + roi].all()]
    if not corners:
        raise ValueError(f"no {roi}x{roi} ROI fits inside the mask")
    rois = np.stack([img[y:y + roi, x:x + roi].astype(np.float64).ravel() for y, x in corners])
    # least-squares detrend of all ROIs at once: r - B (B^+ r), not the (roi^2)^2 projector
    rois = (rois - (rois @ np.linalg.pinv(basis).T) @ basis.T).reshape(-1, roi, roi)
    acc = (np.abs(np.fft.fft2(rois)) ** 2).sum(0)
    nps = pixel_mm**2 / roi**2 * acc / len(corners)
    return np.fft.fftshift(nps), np.fft.fftshift(np.fft.fftfreq(roi, d=pixel_mm)), len(corners)


def radial_nps(nps: np.ndarray, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged NPS, excluding the fx = 0 and fy = 0 axes (row/column artefacts)."""
    fx, fy = np.meshgrid(freqs, freqs)
    f = np.hypot(fx, fy)
    df = freqs[1] - freqs[0]
    off_axis = (np.abs(fx) > df / 2) & (np.abs(fy) > df / 2)
    edges = np.arange(0, freqs.max() + df, df)
    idx = np.digitize(f[off_axis], edges) - 1
    sums = np.bincount(idx, nps[off_axis], minlength=edges.size)
    counts = np.bincount(idx, minlength=edges.size)
    valid = counts > 0
    return (edges[valid] + df / 2)[: valid.sum()], sums[valid] / counts[valid]


def nps_centroid(f: np.ndarray, radial: np.ndarray) -> float:
    """Power-weighted mean frequency of a radial NPS (f weighted by its ring area)."""
    w = radial * f
    return float((f * w).sum() / w.sum())


def mtf_edge(img: np.ndarray, pixel_mm: float = 1.0, oversample: int = 10
             ) -> tuple[np.ndarray, np.ndarray]:
    """MTF from a slightly tilted, roughly vertical edge (oversampled ESF, Hann-windowed LSF)."""
    g = np.abs(np.gradient(img.astype(np.float64), axis=1))
    rows = np.arange(img.shape[0])
    cols = (g * np.arange(img.shape[1])).sum(1) / np.maximum(g.sum(1), 1e-12)
    slope, intercept = np.polyfit(rows, cols, 1)
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    dist = (xx - (slope * yy + intercept)) * np.cos(np.arctan(slope))
    bins = np.round(dist * oversample).astype(int)
    bins -= bins.min()
    counts = np.bincount(bins.ravel())
    esf = np.bincount(bins.ravel(), img.ravel()) / np.maximum(counts, 1)
    filled = counts > 0
    esf = np.interp(np.arange(esf.size), np.flatnonzero(filled), esf[filled])
    lsf = np.gradient(esf) * np.hanning(esf.size)
    mtf = np.abs(np.fft.rfft(lsf))
    mtf /= mtf[0]
    f = np.fft.rfftfreq(lsf.size, d=pixel_mm / oversample)
    mtf /= np.maximum(np.sinc(2 * f * pixel_mm / oversample), 1e-3)
    return f, mtf


def mtf50(f: np.ndarray, mtf: np.ndarray) -> float:
    """First frequency where the MTF falls below 0.5 (linear interpolation)."""
    below = np.flatnonzero(mtf < 0.5)
    if below.size == 0:
        return float(f[-1])
    k = int(below[0])
    if k == 0:
        return float(f[0])
    return float(np.interp(0.5, [mtf[k], mtf[k - 1]], [f[k], f[k - 1]]))


def noise_sigma(img: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Robust noise std: median |Immerkaer Laplacian| / (0.6745 * 6) over ``mask``.

    The filter cancels smooth anatomy; the median ignores the sparse edges it keeps.
    For white Gaussian noise of std s the estimate is s.
    """
    from scipy import ndimage

    response = ndimage.convolve(img.astype(np.float64), IMMERKAER, mode="nearest")
    values = response[mask] if mask is not None else response
    return float(np.median(np.abs(values)) / 0.6745 / 6.0)


def highpass_radial_nps(img: np.ndarray, mask: np.ndarray, roi: int = 32,
                        pixel_mm: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Radial NPS of the 3x3 high-pass image (texture) over ROIs inside ``mask``."""
    from scipy import ndimage

    hp = img.astype(np.float64) - ndimage.uniform_filter(img.astype(np.float64), 3)
    nps, freqs, _ = nps2d(hp, roi, roi // 2, pixel_mm, mask)
    return radial_nps(nps, freqs)


def mean_highpass_nps(images: np.ndarray, masks: list[np.ndarray] | np.ndarray, roi: int = 32
                      ) -> np.ndarray | None:
    """Mean radial high-pass NPS (cycles/pixel bins) of a set of images.

    Args:
        images: (N, 1, H, W) or (N, H, W) float in [0, 1].
        masks: N (H, W) bool texture regions; images where no ROI fits are skipped.
        roi: ROI side in pixels.

    Returns:
        (F,) mean curve over the images that had a ROI (truncated to the shortest), or None.
    """
    curves = []
    for img, mask in zip(images, masks, strict=True):
        try:
            curves.append(highpass_radial_nps(img.reshape(img.shape[-2:]), mask, roi)[1])
        except ValueError:  # no ROI fits this image's mask
            continue
    if not curves:
        return None
    length = min(len(c) for c in curves)
    return np.mean([c[:length] for c in curves], axis=0)


def nps_distance(curve: np.ndarray, reference: np.ndarray) -> float:
    """Relative L1 distance sum |curve - reference| / sum reference over common bins."""
    length = min(len(curve), len(reference))
    return float(np.abs(curve[:length] - reference[:length]).sum() / reference[:length].sum())
