"""Small synthetic images shared by the texture tests."""

from __future__ import annotations

import torch


def noisy_with_collimator(sigma: float, seed: int) -> torch.Tensor:
    """Flat noisy anatomy with a saturated (collimated) band and its hard edge, (2, 1, 64, 64)."""
    gen = torch.Generator().manual_seed(seed)
    x = 0.5 + sigma * torch.randn(2, 1, 64, 64, generator=gen)
    x[..., :16] = 1.0
    return x.clamp(0, 1)


def small_spec(**overrides):
    """A small, fast autoencoder for unit tests (not params.yaml's): 4 learned channels,
    one texture band, 3 white-start 5x5 noise bases, summed-power calibration."""
    from medshift.models.autoencoder import AutoencoderSpec

    base = dict(latent_channels=4, base_channels=16, noise_bases=3, noise_kernel=5,
                calibration_quantile=None, texture_bands=1)
    return AutoencoderSpec(**{**base, **overrides})
