"""Batch augmentations: views an X-ray's class does not depend on (pure tensor ops)."""

from __future__ import annotations

import torch
from torch import nn


def random_crop(x: torch.Tensor, crop: int, gen: torch.Generator) -> torch.Tensor:
    """One random ``crop`` x ``crop`` window, the same for the whole batch (B, C, H, W)."""
    h, w = x.shape[-2:]
    i = int(torch.randint(0, h - crop + 1, (1,), generator=gen, device=gen.device))
    j = int(torch.randint(0, w - crop + 1, (1,), generator=gen, device=gen.device))
    return x[..., i:i + crop, j:j + crop]


def crop_and_flip(x: torch.Tensor, crop: int, gen: torch.Generator) -> torch.Tensor:
    """One random crop position and flip pair for the whole batch."""
    x = random_crop(x, crop, gen)
    flips = torch.rand(2, generator=gen, device=gen.device)
    if flips[0] < 0.5:
        x = x.flip(-1)
    if flips[1] < 0.5:
        x = x.flip(-2)
    return x


def flip_and_shift(x: torch.Tensor, gen: torch.Generator, shift: int) -> torch.Tensor:
    """Per-image flips on both axes and one shift of up to ``shift`` px for the batch
    (edges replicated)."""
    flips = (torch.rand(x.shape[0], 2, generator=gen, device=gen.device) < 0.5).to(x.device)
    x = torch.where(flips[:, 0, None, None, None], x.flip(-1), x)
    x = torch.where(flips[:, 1, None, None, None], x.flip(-2), x)
    if shift:
        padded = nn.functional.pad(x, (shift,) * 4, mode="replicate")
        i, j = torch.randint(0, 2 * shift + 1, (2,), generator=gen,
                             device=gen.device).tolist()
        x = padded[..., i:i + x.shape[-2], j:j + x.shape[-1]]
    return x
