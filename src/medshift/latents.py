"""Latent normalisation fitted on the training split, stored with the model."""

from __future__ import annotations

from dataclasses import dataclass

import torch


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
