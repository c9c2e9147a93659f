"""A PatchGAN critic: one real/fake logit per image patch (texture realism, not layout)."""

from __future__ import annotations

import torch
from torch import nn

from medshift.models.layers import norm


class PatchDiscriminator(nn.Module):
    """(B, 1, H, W) in [0, 1] -> (B, 1, H/4, W/4) logits, each seeing a 22-px patch.

    Small on purpose: it judges pixel-scale texture (noise grain, edge sharpness), which is
    where an L1-trained decoder fails, and cannot learn the anatomy a larger critic would
    make the decoder hallucinate.
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), norm(2 * width),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), norm(2 * width), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)
