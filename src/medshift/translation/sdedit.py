"""SDEdit on the same model: the baseline MedShift is scored against (Meng et al., ICLR 2022).

Noise the source latent onto the flow's probability path at time tau, then integrate the
target label's velocity from tau up to 1 and decode. With the project's path
(``medshift.flow``), x_tau = tau z1 + (1 - (1 - sigma_min) tau) eps, eps ~ N(0, I) drawn per
image from a generator seeded by (seed, key) on the model's device. Unlike MedShift's
deterministic inversion, the noise replaces the source's fine structure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from medshift.latents import encode
from medshift.models.export import MedShiftModel
from medshift.precision import bf16_autocast, use_bf16
from medshift.seeding import image_generators, image_seed, randn
from medshift.translation.translate import TranslationRequest, batch_slices, generate


@torch.no_grad()
def sdedit(model: MedShiftModel, images: np.ndarray | torch.Tensor, targets: Sequence[int],
           request: TranslationRequest, keys: Sequence[str | int] | None = None,
           sigma_min: float = 1e-4) -> tuple[dict[int, np.ndarray], int]:
    """SDEdit every image to each target label.

    Args:
        images: (N, 1, H, W) float32 in [0, 1] at the model's working size.
        targets: target labels; each gets the whole set.
        request: the settings; SDEdit's single leg gets as many steps as one MedShift leg.
        keys: N per-image keys seeding the path noise and the decoder noise.
        sigma_min: the path's sigma_min (the model's training value).

    Returns:
        ({target label: (N, 1, H, W) float32 in [0, 1] on the CPU}, NFE per image).
    """
    n = len(images)
    keys = list(range(n)) if keys is None else list(keys)
    out: dict[int, list[np.ndarray]] = {t: [] for t in targets}
    nfe, tau = 0, request.tau
    for part in batch_slices(n, request.batch_size):
        x = torch.as_tensor(images[part], dtype=torch.float32).to(model.device)
        with bf16_autocast(use_bf16(request.bf16, x.device), x.device):
            z1 = encode(model.autoencoder, x, model.stats).float()
        # a seed stream apart from the decoder's, so path and texture noise never coincide
        gens = image_generators(image_seed(request.seed, "sdedit"), keys[part], z1.device)
        eps = randn(z1.shape, gens, z1.device, z1.dtype)
        z_tau = tau * z1 + (1 - (1 - sigma_min) * tau) * eps
        for t in targets:
            labels = torch.full((len(z1),), t, dtype=torch.int64, device=z1.device)
            y, nfe = generate(model, z_tau, labels, request, keys[part], legs=2)
            out[t].append(y.float().cpu().numpy())
    return {t: np.concatenate(v) for t, v in out.items()}, nfe
