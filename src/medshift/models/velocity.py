"""Class-conditional UNet velocity field v(x_t, t, y) on autoencoder latents."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from medshift.models.layers import Downsample, ResBlock, Upsample, norm, timestep_embedding


@dataclass(frozen=True)
class VelocitySpec:
    """Architecture stored with the weights; label ``n_classes`` is the null (unconditional)."""

    channels: int
    n_classes: int
    base_channels: int = 64
    channel_mults: tuple[int, ...] = (1, 2, 2)

    @property
    def null_label(self) -> int:
        return self.n_classes

    def to_dict(self) -> dict:
        return asdict(self)


class VelocityUNet(nn.Module):
    """x (B, C, H, W), t (B,) in [0, 1], y (B,) in 0..n_classes -> velocity (B, C, H, W)."""

    def __init__(self, spec: VelocitySpec) -> None:
        super().__init__()
        self.spec = spec
        b, emb = spec.base_channels, 4 * spec.base_channels
        self.time_mlp = nn.Sequential(nn.Linear(b, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label_emb = nn.Embedding(spec.n_classes + 1, emb)
        self.conv_in = nn.Conv2d(spec.channels, b, 3, padding=1)
        widths = [b * m for m in spec.channel_mults]
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        c = b
        for k, w in enumerate(widths):
            self.down.append(ResBlock(c, w, emb))
            self.downsample.append(Downsample(w) if k < len(widths) - 1 else nn.Identity())
            c = w
        self.mid = nn.ModuleList([ResBlock(c, c, emb), ResBlock(c, c, emb)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for k, w in reversed(list(enumerate(widths))):
            self.up.append(ResBlock(c + w, w, emb))
            self.upsample.append(Upsample(w) if k > 0 else nn.Identity())
            c = w
        self.out = nn.Sequential(norm(c), nn.SiLU(), nn.Conv2d(c, spec.channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.spec.base_channels)) + self.label_emb(y)
        h = self.conv_in(x)
        skips = []
        for block, down in zip(self.down, self.downsample, strict=True):
            h = block(h, emb)
            skips.append(h)
            h = down(h)
        for block in self.mid:
            h = block(h, emb)
        for block, up in zip(self.up, self.upsample, strict=True):
            h = up(block(torch.cat([h, skips.pop()], dim=1), emb))
        return self.out(h)
