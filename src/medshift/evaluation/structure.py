"""Structure scores: SSIM and PSNR per image, over the whole image or inside a mask.

SSIM follows Wang et al. (2004), "Image quality assessment: from error visibility to
structural similarity", with torchmetrics' defaults (Gaussian window sigma 1.5, 11 taps,
K1 = 0.01, K2 = 0.03, reflection padding, so the SSIM map has the image's size):

    SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 +
                 sigma_y^2 + C2)),  C1 = (K1 L)^2, C2 = (K2 L)^2.

The window is applied as two matrix products (the 2-D Gaussian is the outer product of two
1-D ones; reflection padding folded into the matrices), which gives torchmetrics' map to
float rounding at a tenth of its cost on CPU; a test checks the two agree.
PSNR = 10 log10(L^2 / MSE), with the mean squared error taken over the mask.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

SIGMA, TAPS, K1, K2 = 1.5, 11, 0.01, 0.03
PSNR_CAP = 100.0  # dB given to an exact match (MSE 0), so means and ranks stay finite


def _window(dtype: torch.dtype) -> torch.Tensor:
    x = torch.arange(TAPS, dtype=dtype) - (TAPS - 1) / 2
    g = torch.exp(-(x**2) / (2 * SIGMA**2))
    return g / g.sum()


@functools.lru_cache(maxsize=8)
def _blur_matrix(n: int, dtype: torch.dtype) -> torch.Tensor:
    """(n, n) matrix of the 1-D Gaussian window with reflection padding: row i holds the
    weights output pixel i gives each input pixel (padding folded back in, as F.pad
    'reflect' does), so a separable blur is two matrix products."""
    g, pad = _window(torch.float64), (TAPS - 1) // 2
    out = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        for k in range(TAPS):
            j = abs(i + k - pad)
            j = 2 * (n - 1) - j if j > n - 1 else j
            out[i, j] += g[k]
    return out.to(dtype)


def ssim_map(preds: torch.Tensor, target: torch.Tensor, data_range: float = 1.0
             ) -> torch.Tensor:
    """The local SSIM index at every pixel.

    Args:
        preds: (B, 1, H, W) float, images in [0, data_range].
        target: (B, 1, H, W) float, the references.
        data_range: L, the dynamic range of the pixel values.

    Returns:
        (B, 1, H, W): the SSIM map (mean over pixels = torchmetrics' SSIM).

    Raises:
        ValueError: shapes differ or are not (B, 1, H, W) with H, W > 5.
    """
    if preds.shape != target.shape or preds.ndim != 4 or preds.shape[1] != 1 \
            or min(preds.shape[2:]) <= (TAPS - 1) // 2:
        raise ValueError(f"ssim_map needs two (B, 1, H, W) tensors, got {tuple(preds.shape)} "
                         f"and {tuple(target.shape)}")
    rows = _blur_matrix(preds.shape[2], preds.dtype)
    cols = _blur_matrix(preds.shape[3], preds.dtype)
    x = torch.cat([preds, target, preds * preds, target * target, preds * target])
    x = rows @ x @ cols.T  # the 2-D window is the outer product of two 1-D ones
    mu_p, mu_t, pp, tt, pt = x.split(preds.shape[0])
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    var_p = torch.clamp(pp - mu_p**2, min=0.0)
    var_t = torch.clamp(tt - mu_t**2, min=0.0)
    cov = pt - mu_p * mu_t
    return ((2 * mu_p * mu_t + c1) * (2 * cov + c2)
            / ((mu_p**2 + mu_t**2 + c1) * (var_p + var_t + c2)))


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return values.flatten(1).mean(1)
    m = mask.reshape(values.shape).to(values.dtype)
    count = m.flatten(1).sum(1)
    return torch.where(count > 0, (values * m).flatten(1).sum(1) / count.clamp(min=1),
                       torch.full_like(count, float("nan")))


def structure_scores(preds: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None,
                     data_range: float = 1.0, batch: int = 64) -> dict[str, np.ndarray]:
    """SSIM and PSNR (dB) of each image against its reference, inside ``mask``.

    Args:
        preds: (N, 1, H, W) float32 in [0, 1].
        target: (N, 1, H, W) float32 in [0, 1], aligned with ``preds``.
        mask: (N, H, W) bool, the pixels that count; None: the whole image. An empty mask
            gives NaN for that image.
        data_range: L in the SSIM and PSNR formulas.
        batch: images per step (bounds memory: 5 maps of (batch, 1, H, W)).

    Returns:
        {"ssim": (N,), "psnr": (N,)} float64; PSNR is capped at PSNR_CAP (exact match).
    """
    return structure_regions(preds, target, {"": mask}, data_range, batch)[""]


def structure_regions(preds: np.ndarray, target: np.ndarray,
                      regions: dict[str, np.ndarray | None], data_range: float = 1.0,
                      batch: int = 64) -> dict[str, dict[str, np.ndarray]]:
    """``structure_scores`` for several regions from one SSIM map per image.

    Args:
        preds, target: as in ``structure_scores``.
        regions: name -> (N, H, W) bool mask, or None for the whole image.

    Returns:
        name -> {"ssim": (N,), "psnr": (N,)}.
    """
    out: dict[str, dict[str, list]] = {name: {"ssim": [], "psnr": []} for name in regions}
    for k in range(0, len(preds), batch):
        p = torch.as_tensor(preds[k:k + batch], dtype=torch.float32)
        t = torch.as_tensor(target[k:k + batch], dtype=torch.float32)
        smap, err = ssim_map(p, t, data_range), (p.double() - t.double()) ** 2
        for name, mask in regions.items():
            m = None if mask is None else torch.as_tensor(mask[k:k + batch])
            out[name]["ssim"].append(_masked_mean(smap, m).double())
            psnr = 10 * torch.log10(data_range**2 / _masked_mean(err, m))
            out[name]["psnr"].append(psnr.clamp(max=PSNR_CAP))
    return {name: {m: torch.cat(v).numpy() for m, v in d.items()} for name, d in out.items()}


def anatomy_mask(source_field: np.ndarray, target_field: np.ndarray) -> np.ndarray:
    """Pixels exposed in both fields: (N, H, W) bool. Outside the target's field no
    translation can know the collimator's position, so only this region scores correctness."""
    return np.logical_and(source_field, target_field)
