"""MedShift translation: invert with the source label to tau, generate with the target label.

z1 = normalise(encode(x)); integrate dz/dt = v_a from t = 1 down to tau (shared latent);
integrate dz/dt = v_b from tau up to 1; decode. Noise-free, hence deterministic; the
decoder's texture noise is seeded per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from medshift.flow.guidance import guided_velocity
from medshift.flow.solvers import solve, time_grid
from medshift.latents import LatentStats
from medshift.models.autoencoder import KLAutoencoder
from medshift.models.velocity import VelocityUNet


@dataclass(frozen=True)
class TranslationRequest:
    """How to translate: intermediate time, solver, evaluations per leg, guidance."""

    tau: float = 0.45
    nfe: int = 16
    method: str = "midpoint"
    guidance: float = 1.5
    seed: int = 0


@torch.no_grad()
def invert(images: torch.Tensor, source: torch.Tensor, autoencoder: KLAutoencoder,
           velocity: VelocityUNet, stats: LatentStats, request: TranslationRequest
           ) -> torch.Tensor:
    """The shared latent z_tau of images (B, 1, H, W) under source labels (B,)."""
    if not 0.0 < request.tau <= 1.0:
        raise ValueError(f"tau must be in (0, 1], got {request.tau}")
    z = stats.normalise(autoencoder.encode(images)[0])
    down = time_grid(1.0, request.tau, request.nfe, request.method)
    field = guided_velocity(velocity, source, request.guidance, velocity.spec.null_label)
    return solve(field, z, down, request.method)


@torch.no_grad()
def generate(z_tau: torch.Tensor, target: torch.Tensor, autoencoder: KLAutoencoder,
             velocity: VelocityUNet, stats: LatentStats, request: TranslationRequest
             ) -> torch.Tensor:
    """Images of the target classes from the shared latent z_tau."""
    up = time_grid(request.tau, 1.0, request.nfe, request.method)
    field = guided_velocity(velocity, target, request.guidance, velocity.spec.null_label)
    z = solve(field, z_tau, up, request.method)
    gen = torch.Generator(device=z.device).manual_seed(request.seed)
    return autoencoder.decode(stats.denormalise(z), gen)


def translate(images: torch.Tensor, source: torch.Tensor, target: torch.Tensor,
              autoencoder: KLAutoencoder, velocity: VelocityUNet, stats: LatentStats,
              request: TranslationRequest) -> torch.Tensor:
    """images (B, 1, H, W) in [0, 1]; labels (B,) (null label = unknown source)."""
    z_tau = invert(images, source, autoencoder, velocity, stats, request)
    return generate(z_tau, target, autoencoder, velocity, stats, request)
