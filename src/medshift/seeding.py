"""Per-image randomness: every image draws from its own generator, seeded by (seed, key).

As in NVlabs/edm2, an image's noise then depends on nothing but the run's seed and the
image's key (its manifest image_id, or its index among the inputs): not on the batch it
travels in, the batch size or the worker count. Generators live on the tensors' device, so
the same code runs on CPU and CUDA.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch

Generators = torch.Generator | Sequence[torch.Generator] | None


def image_seed(seed: int, key: str | int) -> int:
    """A 63-bit seed from the run seed and an image key (sha256 of both, first 8 bytes)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def image_generators(seed: int, keys: Sequence[str | int], device: torch.device | str
                     ) -> list[torch.Generator]:
    """One generator per image key, created on ``device`` (CPU or CUDA)."""
    return [torch.Generator(device=device).manual_seed(image_seed(seed, k)) for k in keys]


def randn(shape: Sequence[int], generator: Generators, device: torch.device,
          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal noise of ``shape`` (B, ...) on ``device``.

    Args:
        shape: the batch shape; its first axis is the image axis.
        generator: None (global RNG), one generator for the whole batch, or one per image
            (then image b's noise is ``torch.randn(shape[1:], generator=generator[b])``).
        device, dtype: where and how the noise is made.

    Raises:
        ValueError: a generator list whose length is not the batch size, or a generator on
            another device than ``device``.
    """
    if generator is None or isinstance(generator, torch.Generator):
        return torch.randn(tuple(shape), generator=generator, device=device, dtype=dtype)
    if len(generator) != shape[0]:
        raise ValueError(f"{len(generator)} generators for a batch of {shape[0]} images")
    for g in generator:
        if g.device.type != torch.device(device).type:
            raise ValueError(f"generator on {g.device}, noise wanted on {device}")
    return torch.stack([torch.randn(tuple(shape[1:]), generator=g, device=device, dtype=dtype)
                        for g in generator])
