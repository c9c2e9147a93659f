"""The conditional optimal-transport probability path (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PathSample:
    """x_t and its target velocity for one batch."""

    x_t: torch.Tensor
    velocity: torch.Tensor


def sample_path(x1: torch.Tensor, x0: torch.Tensor, t: torch.Tensor,
                sigma_min: float = 1e-4) -> PathSample:
    """x_t = t x1 + (1 - (1 - s) t) x0 and u = x1 - (1 - s) x0; t has shape (B,)."""
    tt = t.view(-1, *([1] * (x1.dim() - 1)))
    return PathSample(tt * x1 + (1 - (1 - sigma_min) * tt) * x0, x1 - (1 - sigma_min) * x0)
