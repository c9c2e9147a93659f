"""Class-conditional UNet velocity field v(x_t, t, y) on autoencoder latents."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import cast

import torch
from torch import nn

from medshift.models.layers import Downsample, ResBlock, Upsample, norm, timestep_embedding


@dataclass(frozen=True)
class VelocityArchitecture:
    """The UNet's widths (``params.velocity.model``; defaults equal params.yaml's)."""

    base_channels: int = 48
    channel_mults: tuple[int, ...] = (1, 2, 2)  # width multiple of each resolution level


@dataclass(frozen=True)
class VelocitySpec:
    """Architecture stored with the weights: the latent ``channels`` and ``n_classes`` come
    from the autoencoder and the data; label ``n_classes`` is the null (unconditional)."""

    channels: int
    n_classes: int
    architecture: VelocityArchitecture = field(default_factory=VelocityArchitecture)

    @property
    def null_label(self) -> int:
        return self.n_classes

    def to_dict(self) -> dict:
        """Plain data, as stored in an export's metadata."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> VelocitySpec:
        """From ``to_dict`` output; also reads the flat layout of exports made before the
        architecture was nested (``base_channels`` and ``channel_mults`` beside ``channels``)."""
        arch = values.get("architecture") or {k: values[k] for k in
                                             ("base_channels", "channel_mults") if k in values}
        arch = {**arch, **({"channel_mults": tuple(arch["channel_mults"])}
                           if "channel_mults" in arch else {})}
        return cls(int(values["channels"]), int(values["n_classes"]),
                   VelocityArchitecture(**arch))


class VelocityUNet(nn.Module):
    """x (B, C, H, W), t (B,) in [0, 1], y (B,) in 0..n_classes -> velocity (B, C, H, W)."""

    def __init__(self, spec: VelocitySpec) -> None:
        super().__init__()
        self.spec = spec
        b = spec.architecture.base_channels
        emb = 4 * b
        self.time_mlp = nn.Sequential(nn.Linear(b, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label_emb = nn.Embedding(spec.n_classes + 1, emb)
        self.conv_in = nn.Conv2d(spec.channels, b, 3, padding=1)
        widths = [b * m for m in spec.architecture.channel_mults]
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
        out_conv = cast(nn.Conv2d, self.out[-1])
        nn.init.zeros_(out_conv.weight)
        nn.init.zeros_(cast(torch.Tensor, out_conv.bias))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        base = self.spec.architecture.base_channels
        emb = self.time_mlp(timestep_embedding(t, base)) + self.label_emb(y)
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
