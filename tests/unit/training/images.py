"""Small synthetic images shared by the texture tests."""

from __future__ import annotations

import torch


def noisy_with_collimator(sigma: float, seed: int) -> torch.Tensor:
    """Flat noisy anatomy with a saturated (collimated) band and its hard edge, (2, 1, 64, 64)."""
    gen = torch.Generator().manual_seed(seed)
    x = 0.5 + sigma * torch.randn(2, 1, 64, 64, generator=gen)
    x[..., :16] = 1.0
    return x.clamp(0, 1)
