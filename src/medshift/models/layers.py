"""Building blocks shared by the autoencoder, the velocity UNet and the classifier."""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups (small CPU models have few channels)."""
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    """Pre-norm residual block; with ``emb_dim`` it is FiLM-modulated by an embedding."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int | None = None) -> None:
        super().__init__()
        self.norm1, self.conv1 = norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2, self.conv2 = norm(c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.film = nn.Linear(emb_dim, 2 * c_out) if emb_dim else None
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(cast(torch.Tensor, self.conv2.bias))

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        h = self.norm2(h)
        if self.film is not None and emb is not None:
            scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
            h = h * (1 + scale) + shift
        return self.skip(x) + self.conv2(nn.functional.silu(h))


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.interpolate(x, scale_factor=2, mode="nearest"))


class SubpixelUpsample(nn.Module):
    """x2 upsampling by a 3x3 convolution to 4 sub-pixel phases and a pixel shuffle.

    Nearest (and bilinear) upsampling zero the response at the coarse grid's Nyquist
    frequency, which left a notch at 1/factor cycles/pixel in decoded spectra; learned
    phases have no fixed zero. Each phase's filter is a shared filter plus a zero-sum
    detail filter, so all phases have the same DC gain and bias: flat regions cannot turn
    into a 2-px periodic pattern (free phases learned one, see the issue note). The detail
    starts at zero, so the layer starts as nearest upsampling of a convolution (ICNR).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.shared = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.detail = nn.Parameter(torch.zeros(4 * c_out, c_in, 3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        detail = self.detail - self.detail.mean((2, 3), keepdim=True)
        weight = self.shared.weight.repeat_interleave(4, dim=0) + detail
        bias = cast(torch.Tensor, self.shared.bias).repeat_interleave(4)
        return nn.functional.pixel_shuffle(nn.functional.conv2d(x, weight, bias, padding=1), 2)


def binomial_blur(x: torch.Tensor) -> torch.Tensor:
    """3x3 binomial low-pass ([1, 2, 1] / 4 on each axis), (B, 1, H, W)."""
    kernel = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device) / 4
    return torch.nn.functional.conv2d(x, (kernel[:, None] * kernel[None, :])[None, None],
                                      padding=1)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of t in [0, 1] (scaled by 1000), shape (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = 1000.0 * t.to(torch.promote_types(t.dtype, torch.float32))[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)
