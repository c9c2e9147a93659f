"""Explicit texture channels and the decoder's noise calibration.

The encoder records, per latent cell, the RMS of noise-filter responses of the input: the
Immerkaer filter (the finest band, where white noise lives) and, with two bands, the same
filter dilated by 2 (around 0.25 cycles/pixel, where the noise reduction of low-dose
acquisitions puts its correlation). The decoder then sets the level, and with two bands
the correlation, of its noise so that the reconstruction shows the recorded band powers.

Statistics over cells are either a sum over the texture region or, robustly, a quantile
of the cell powers inside it: the quantile is how noise is measured in practice, in the
flattest anatomy, and edges the decoded mean blurs or overshoots cannot move it.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from medshift.signal import noise_filter, texture_region

BAND_DILATIONS = (1, 2)  # texture band k: the Immerkaer filter dilated by BAND_DILATIONS[k]


def band_responses(x: torch.Tensor, bands: int) -> list[torch.Tensor]:
    """Noise-filter responses of ``x`` (B, 1, H, W), one per band."""
    return [noise_filter(x, BAND_DILATIONS[k]) for k in range(bands)]


def texture_channels(x: torch.Tensor, factor: int, bands: int = 1) -> torch.Tensor:
    """Log RMS of each band's noise-filter response per factor x factor block,
    (B, bands, H/f, W/f).

    For white noise of std s every band's response has std s, so band 0 is a local noise
    level (plus edge energy) and band 1 / band 0 measures the noise's correlation.
    """
    levels = [torch.sqrt(nn.functional.avg_pool2d(r * r, factor) + 1e-8)
              for r in band_responses(x, bands)]
    return (torch.log(torch.cat(levels, 1)) + 5.0) / 2.0


def texture_power(texture: torch.Tensor) -> torch.Tensor:
    """Band power per latent cell from texture channels (inverts ``texture_channels``:
    rms^2 = exp(4 t - 10))."""
    return torch.exp(4.0 * texture - 10.0)


class CellStatistic:
    """One number per image from per-cell values (B, ..., h, w): the ``quantile`` over the
    cells inside the texture region, or (``quantile`` None) the region-weighted sum."""

    def __init__(self, share: torch.Tensor, quantile: float | None) -> None:
        share = share.flatten(0, 1)  # (B, h, w)
        self.quantile = quantile
        self.share = torch.where(share.sum((1, 2), keepdim=True) > 0, share,
                                 torch.ones_like(share))  # no texture region: every cell
        inside = self.share > 0.999
        self.inside = inside | ~inside.any((1, 2), keepdim=True)

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        view = (values.shape[0],) + (1,) * (values.dim() - 3) + values.shape[-2:]
        if self.quantile is None:
            return (self.share.view(view) * values).sum((-2, -1))
        masked = torch.where(self.inside.view(view), values, float("nan"))
        return torch.nanquantile(masked.flatten(-2), self.quantile, dim=-1)


class _BandMoments:
    """Per-cell second moments (B, h, w) of one band's responses of the mean m and of two
    noise components u, v: the cell power of m + a u + b v is a quadratic form in (a, b)."""

    def __init__(self, cells, base: torch.Tensor, units: list[torch.Tensor]) -> None:
        u, v = (units + units[:1])[:2]  # one component: v unused (weight 0)
        pool = lambda a, b: cells(a * b).flatten(0, 1)  # noqa: E731
        self.mm, self.mu, self.mv = pool(base, base), pool(base, u), pool(base, v)
        self.uu, self.uv, self.vv = pool(u, u), pool(u, v), pool(v, v)

    def power(self, a: torch.Tensor, b: torch.Tensor, mean: bool = True) -> torch.Tensor:
        """Cell powers (B, ..., h, w) for weights a, b of shape (B, ...)."""
        extra = (1,) * (a.dim() - 1)
        view = lambda t: t.view(t.shape[0], *extra, *t.shape[-2:])  # noqa: E731
        a, b = a[..., None, None], b[..., None, None]
        noise = a * a * view(self.uu) + 2 * a * b * view(self.uv) + b * b * view(self.vv)
        if not mean:
            return noise
        return view(self.mm) + 2 * a * view(self.mu) + 2 * b * view(self.mv) + noise


_ANGLES = torch.linspace(0.0, math.pi / 2, 12)


def _crossing(x: torch.Tensor, f: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Where f(x) (both (..., K), f increasing) reaches ``target`` (...): linear
    interpolation between the grid points around it, clamped to the grid."""
    k = (f < target[..., None]).sum(-1, keepdim=True).clamp(1, f.shape[-1] - 1)
    f0, f1 = f.gather(-1, k - 1), f.gather(-1, k)
    x0, x1 = x.gather(-1, k - 1), x.gather(-1, k)
    w = ((target[..., None] - f0) / (f1 - f0).clamp_min(1e-12)).clamp(0, 1)
    return (x0 + w * (x1 - x0))[..., 0]


def _solve_level(stat: CellStatistic, band: _BandMoments, c: torch.Tensor, s: torch.Tensor,
                 target: torch.Tensor, iterations: int = 6) -> torch.Tensor:
    """r >= 0 (B, J) with stat(power(r c, r s)) = target for mixes c, s (B, J): secant
    steps on log stat against log r from the level that ignores the mean (where the
    slope is 2); 0 when the mean alone reaches the target."""
    log_target = torch.log(target[:, None].expand_as(c).clamp_min(1e-30))
    own = stat(band.power(c, s, mean=False)).clamp_min(1e-30)
    x = (log_target - torch.log(own)) / 2
    floor = x - math.log(1e3)

    def log_stat(log_r: torch.Tensor) -> torch.Tensor:
        r = torch.exp(log_r)
        return torch.log(stat(band.power(r * c, r * s)).clamp_min(1e-30))

    f, slope = log_stat(x), torch.full_like(x, 2.0)
    for _ in range(iterations):
        x_next = torch.maximum(x + (log_target - f) / slope, floor)
        f_next = log_stat(x_next)
        dx = x_next - x
        slope = torch.where(dx.abs() > 1e-6, (f_next - f) / torch.where(dx == 0, 1.0, dx),
                            slope).clamp(0.25, 2.5)
        x, f = x_next, f_next
    solved = torch.exp(x)
    mean_alone = stat(band.mm)[:, None] >= torch.exp(log_target)
    return torch.where(mean_alone, torch.zeros_like(solved), solved)


@torch.no_grad()
def solve_gains(stat: CellStatistic, cells, recorded: torch.Tensor, mean: torch.Tensor,
                responses: list[list[torch.Tensor]], own: torch.Tensor) -> torch.Tensor:
    """Gains (B, n) for n independent noise components so that mean + sum_i g_i c_i has
    the ``recorded`` band powers (B, bands, h, w) in ``stat``; ``responses`` are the
    components' band responses and ``own`` (B, n) their band-0 statistics.

    One component: its gain matches band 0. Two (white-ish, correlated): on a grid of mix
    angles theta (g = r cos theta, r sin theta on components scaled to equal band-0
    level), r is solved for band 0, and theta is where band 1 matches too; a target
    outside the pair's range takes the nearer component alone.
    """
    target = stat(recorded[:, :1])[:, 0]
    bands = len(responses)
    # equal band-0 level for both components, so the angle mixes shapes, not levels
    norm = own.clamp_min(1e-20).sqrt()
    moments = [_BandMoments(cells, base, [r[k] / norm[:, i].view(-1, 1, 1, 1)
                                          for i, r in enumerate(responses)])
               for k, base in enumerate(band_responses(mean, bands))]
    if bands == 1:
        one = torch.ones_like(target)[:, None]
        return _solve_level(stat, moments[0], one, torch.zeros_like(one), target) / norm
    target1 = torch.log(stat(recorded[:, 1:2])[:, 0].clamp_min(1e-30))
    angles = _ANGLES.to(mean).expand(len(target), -1)
    step = float(_ANGLES[1])
    for _ in range(2):  # a coarse grid of angles, then a fine one around the crossing
        c, s = torch.cos(angles), torch.sin(angles)
        r = _solve_level(stat, moments[0], c, s, target)
        band1 = torch.log(stat(moments[1].power(r * c, r * s)).clamp_min(1e-30))
        rising = band1[:, -1:] >= band1[:, :1]  # the learned component may be the smoother
        sign = torch.where(rising, 1.0, -1.0)
        theta = _crossing(angles, sign * band1, sign[:, 0] * target1)[:, None]
        angles = (theta + step * torch.linspace(-1, 1, 9).to(theta)).clamp(0, math.pi / 2)
    c, s = torch.cos(theta), torch.sin(theta)
    r = _solve_level(stat, moments[0], c, s, target)
    return torch.cat([r * c, r * s], 1) / norm


def calibrate(texture: torch.Tensor, mean: torch.Tensor, components: list[torch.Tensor],
              quantile: float | None = None) -> torch.Tensor:
    """The calibrated noise sum_i g_i c_i (B, 1, H, W) (see ``solve_gains``).

    The value uses the solved gains; the gradient normalises each component's level as
    g = sqrt(target / own power) would, so the noise branch learns the shape and placement
    of the noise, not its level. One gain per image (per component): a per-cell gain put
    noise on blurred edges, which the domain classifier read as processed 'exposure'
    images. Field, collimator and saturation edges are left out (the texture region):
    their filter power is structure, not noise.
    """
    mean = mean.detach()
    factor = mean.shape[-1] // texture.shape[-1]
    cells = lambda a: nn.functional.avg_pool2d(a, factor)  # noqa: E731
    stat = CellStatistic(cells(texture_region(mean)), quantile)
    responses = [band_responses(c, len(components)) for c in components]
    own = torch.cat([stat(cells(r[0] ** 2)) for r in responses], 1).clamp_min(1e-20)
    gains = solve_gains(stat, cells, texture_power(texture), mean,
                        [[b.detach() for b in r] for r in responses], own.detach())
    normaliser = torch.sqrt(own.detach() / own)
    return cast(torch.Tensor, sum(gains[:, k].view(-1, 1, 1, 1) * normaliser[:, k].view(
        -1, 1, 1, 1) * c for k, c in enumerate(components)))
