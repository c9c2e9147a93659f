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
def translate(images: torch.Tensor, source: torch.Tensor, target: torch.Tensor,
              autoencoder: KLAutoencoder, velocity: VelocityUNet, stats: LatentStats,
              request: TranslationRequest) -> torch.Tensor:
    """images (B, 1, H, W) in [0, 1]; labels (B,) (null label = unknown source)."""
    if not 0.0 < request.tau <= 1.0:
        raise ValueError(f"tau must be in (0, 1], got {request.tau}")
    z = stats.normalise(autoencoder.encode(images)[0])
    null = velocity.spec.null_label
    down = time_grid(1.0, request.tau, request.nfe, request.method)
    up = time_grid(request.tau, 1.0, request.nfe, request.method)
    z = solve(guided_velocity(velocity, source, request.guidance, null), z, down, request.method)
    z = solve(guided_velocity(velocity, target, request.guidance, null), z, up, request.method)
    gen = torch.Generator(device=images.device).manual_seed(request.seed)
    return autoencoder.decode(stats.denormalise(z), gen)
