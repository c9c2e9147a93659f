"""Latents: the normalisation fitted on the training split, and the one encode/decode pair.

``encode`` and ``decode`` are the device boundary of the latent space: images are moved to
the autoencoder's device there and nowhere else, so a CUDA model never meets a CPU array.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from medshift.seeding import Generators

if TYPE_CHECKING:
    from medshift.models.autoencoder import KLAutoencoder


@dataclass(frozen=True)
class LatentStats:
    """Per-channel mean and std of training latents: z_norm = (z - mean) / std."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, latents: torch.Tensor) -> LatentStats:
        """latents (N, C, H, W)."""
        mean = latents.mean(dim=(0, 2, 3))
        std = latents.std(dim=(0, 2, 3)).clamp(min=1e-6)
        return cls(tuple(mean.tolist()), tuple(std.tolist()))

    def _view(self, values, like: torch.Tensor) -> torch.Tensor:
        return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)

    def normalise(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self._view(self.mean, z)) / self._view(self.std, z)

    def denormalise(self, z: torch.Tensor) -> torch.Tensor:
        return z * self._view(self.std, z) + self._view(self.mean, z)


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU for a parameter-free module)."""
    return next((p.device for p in module.parameters()), torch.device("cpu"))


@torch.no_grad()
def encode(autoencoder: KLAutoencoder, images: np.ndarray | torch.Tensor,
           stats: LatentStats | None = None, batch_size: int = 64) -> torch.Tensor:
    """Posterior-mean latents of images, normalised by ``stats`` when given.

    Args:
        images: (N, 1, H, W) float32 in [0, 1], on any device (moved to the model's).
        stats: latent statistics; None returns raw latents.
        batch_size: images per forward pass.

    Returns:
        (N, C + bands, H/f, W/f) float32 on the autoencoder's device.
    """
    device = module_device(autoencoder)
    x = torch.as_tensor(images, dtype=torch.float32)
    z = torch.cat([autoencoder.encode(x[k:k + batch_size].to(device))[0]
                   for k in range(0, len(x), batch_size)])
    return z if stats is None else stats.normalise(z)


@torch.no_grad()
def decode(autoencoder: KLAutoencoder, z: torch.Tensor, stats: LatentStats | None = None,
           generator: Generators = None) -> torch.Tensor:
    """Images from latents (denormalised by ``stats`` when given).

    Args:
        z: (B, C + bands, h, w) latents on any device (moved to the model's).
        generator: the decoder's texture noise: one generator for the batch or one per image
            (on the model's device).

    Returns:
        (B, 1, h*f, w*f) float32 in [0, 1] on the autoencoder's device.
    """
    z = z.to(module_device(autoencoder))
    return autoencoder.decode(z if stats is None else stats.denormalise(z), generator)
