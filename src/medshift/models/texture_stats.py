"""Per-image texture statistics: noise level and correlation at several scales.

The Immerkaer noise filter cancels smooth anatomy, and its taps' squares sum to one, so
white noise of std s gives a response of std s at every dilation d (the band around
0.5 / d cycles/pixel). Quantiles of the absolute response inside the texture region,
divided by the Gaussian's, then read ln s for white noise at every (d, q); noise
reduction lowers the fine bands against the coarse ones (correlation), and edge
enhancement or blur moves the upper quantile (edges) against the median (noise).

Quantum noise depends on the signal, so the median is also read per intensity bin (the
texture region split into equal-count bins of the local mean): a noise-versus-intensity
curve, which tells doses apart where one image-wide level mixes bright and dark anatomy.
"""

from __future__ import annotations

import math

import torch

from medshift.models.layers import binomial_blur
from medshift.signal import noise_filter, texture_region

DILATIONS = (1, 2, 4)  # filter dilations: bands around 0.5, 0.25, 0.125 cycles/pixel
QUANTILES = (0.5, 0.9)  # of |response|: the median reads noise, the 0.9 quantile edges
INTENSITY_BINS = 3  # equal-count bins of the local mean for the noise-versus-intensity curve


def _gaussian_abs_quantile(q: float) -> float:
    """The q-quantile of |N(0, 1)|: Phi^-1((1 + q) / 2)."""
    return math.sqrt(2.0) * float(torch.special.erfinv(torch.tensor(q, dtype=torch.float64)))


def n_statistics(dilations: tuple[int, ...] = DILATIONS, quantiles: tuple[float, ...] = QUANTILES,
                 bins: int = INTENSITY_BINS) -> int:
    """How many values ``texture_statistics`` returns per image."""
    return len(dilations) * (len(quantiles) + bins) + bins


def _region(x: torch.Tensor, reach: int) -> torch.Tensor:
    """(B, H*W) bool: unsaturated, off field edges and ``reach`` px from the image border;
    every pixel of an image where that is empty."""
    height, width = x.shape[-2:]
    region = texture_region(x, margin=max(3, reach))
    border = torch.zeros_like(region)
    border[..., reach:height - reach, reach:width - reach] = 1
    region = (region * border).flatten(1) > 0.5
    return region | ~region.any(1, keepdim=True)


def texture_statistics(x: torch.Tensor, dilations: tuple[int, ...] = DILATIONS,
                       quantiles: tuple[float, ...] = QUANTILES,
                       bins: int = INTENSITY_BINS) -> torch.Tensor:
    """Log noise-filter response levels of each image, and its noise-versus-intensity curve.

    Args:
        x: (B, 1, H, W) float in [0, 1].
        dilations: Immerkaer filter dilations (the bands measured).
        quantiles: quantiles of the absolute response over the texture region (unsaturated
            pixels off field edges and image borders; every pixel where that is empty).
        bins: equal-count bins of the local mean (two binomial blurs) in the texture region.

    Returns:
        (B, n_statistics(...)) float32: per dilation, ln(quantile_q |response| /
        Phi^-1((1 + q) / 2)) for each q, then ln(median |response| / 0.6745) in each
        intensity bin (darkest first); finally each bin's mean local intensity (0-1). For
        white Gaussian noise of std s every log entry reads ln s.
    """
    x = x.float()
    region = _region(x, max(dilations))
    q = torch.tensor(quantiles, dtype=x.dtype, device=x.device)
    scale = torch.tensor([_gaussian_abs_quantile(v) for v in quantiles], dtype=x.dtype,
                         device=x.device)
    local = torch.where(region, binomial_blur(binomial_blur(x)).flatten(1), float("nan"))
    edges = torch.nanquantile(local, torch.linspace(0, 1, bins + 1, device=x.device)[1:-1],
                              dim=1).T  # (B, bins - 1)
    which = (local[:, None, :] > edges[:, :, None]).sum(1)  # bin of each pixel, (B, H*W)
    counts = torch.stack([(region & (which == b)).sum(1) for b in range(bins)], 1)
    starts = torch.cumsum(counts, 1) - counts
    out, half = [], _gaussian_abs_quantile(0.5)
    for d in dilations:
        response = noise_filter(x, d).abs().flatten(1)
        masked = torch.where(region, response, float("nan"))
        out.append(torch.log(torch.nanquantile(masked, q, dim=1).T / scale + 1e-6))
        # one sort gives every bin's median: |response| < 4 (the filter's L1 norm is 8/3),
        # so bin * 4 + |response| orders pixels by bin, then by response
        keys = torch.where(region, which * 4.0 + response, float("inf")).sort(1).values
        last = keys.shape[1] - 1  # an empty last bin starts past the end: clamp, then mask
        lower = keys.gather(1, (starts + (counts - 1).clamp_min(0) // 2).clamp_max(last))
        upper = keys.gather(1, (starts + counts // 2).clamp_max(last))
        offset = 4.0 * torch.arange(bins, dtype=x.dtype, device=x.device)
        median = torch.where(counts > 0, (lower + upper) / 2 - offset, float("nan"))
        out.append(torch.log(median / half + 1e-6))
    means = [torch.nanmean(torch.where(region & (which == b), local, float("nan")), 1)
             for b in range(bins)]
    return torch.nan_to_num(torch.cat(out + [torch.stack(means, 1)], 1), nan=0.0)
