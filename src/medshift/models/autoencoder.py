"""1-channel KL autoencoder with seeded noise injection in the decoder.

The encoder gives a diagonal Gaussian q(z|x) (mean, log-variance) at 1/``factor`` of the
image size. The decoder splits the image into a deterministic mean (trained with L1) and a
learned noise texture (trained with spectral and local-energy losses): plain pixel losses
make an autoencoder a denoiser, and dose classes differ mostly in noise. The noise comes
from an explicit generator, so decoding is deterministic per seed.

Under an autocast context only the convolutional trunks run in reduced precision: the
texture channels, both heads, the noise and its calibration are computed in fp32 (a bf16
step near 1.0 is 1/256, more than the finest noise sigma the decoder must reproduce).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import cast

import numpy as np
import torch
from torch import nn

from medshift.latents import encode as encode_latents
from medshift.models.calibration import calibrate, texture_channels
from medshift.models.layers import ResBlock, SubpixelUpsample, binomial_blur, norm
from medshift.seeding import Generators, randn


@dataclass(frozen=True)
class AutoencoderSpec:
    """Architecture hyper-parameters stored with the weights (``params.autoencoder.model``;
    defaults equal params.yaml's)."""

    factor: int = 4         # image side / latent side
    latent_channels: int = 8  # learned KL channels (the texture channels come on top)
    base_channels: int = 32
    noise_injection: bool = True
    calibrate_noise: bool = True
    noise_bases: int = 6    # coloured white-noise bases the decoder mixes
    noise_kernel: int = 7   # side of each basis's colouring kernel (odd)
    upsample: str = "nearest"  # decoder x2 steps: "nearest" or "bilinear" + conv, or "subpixel"
    calibration_quantile: float | None = 0.25  # match this quantile of cell powers (None: sum)
    texture_bands: int = 2  # explicit texture channels: noise level, + its correlation (2)

    def to_dict(self) -> dict:
        """Plain data, as stored in an export's metadata."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> AutoencoderSpec:
        """From ``to_dict`` output (an export's metadata)."""
        return cls(**values)


def _widths(spec: AutoencoderSpec) -> list[int]:
    """Channels per level, full resolution first: thin where pixels are many (CPU speed)."""
    levels = int(math.log2(spec.factor))
    return [max(8, spec.base_channels // 2) * 2**k for k in range(levels + 1)]


def full_precision(like: torch.Tensor) -> torch.autocast:
    """A context that suspends autocast on ``like``'s device (fp32 inside)."""
    return torch.autocast(like.device.type, enabled=False)


class Encoder(nn.Module):
    def __init__(self, spec: AutoencoderSpec) -> None:
        super().__init__()
        chans = _widths(spec)
        layers: list[nn.Module] = [nn.Conv2d(1, chans[0], 3, padding=1), nn.SiLU()]
        for k in range(len(chans) - 1):
            layers += [nn.Conv2d(chans[k], chans[k + 1], 3, stride=2, padding=1),
                       ResBlock(chans[k + 1], chans[k + 1])]
        layers += [ResBlock(chans[-1], chans[-1]), norm(chans[-1]), nn.SiLU(),
                   nn.Conv2d(chans[-1], 2 * spec.latent_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

        self.factor = spec.factor

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.net(x * 2 - 1).float().chunk(2, dim=1)
        return mean, logvar.clamp(-30, 20)


class Decoder(nn.Module):
    """Deterministic mean image plus learned, locally modulated noise texture.

    ``noise`` = sum_k a_k(z) * (g_k * n_k): ``noise_bases`` white noises n_k coloured by
    learned ``noise_kernel``-wide kernels g_k, mixed per pixel by amplitudes a_k predicted
    from the latent. White, low-pass and band-pass textures (synthetic vs fluoroscopy vs
    exposure) are all representable. With two texture bands a second, independent draw
    of the same texture is low-passed by a binomial kernel, and the calibration mixes the
    two to the recorded correlation: the domain classifier tells low from normal dose by
    that correlation (noise reduction), which one learned mixture averaged away.
    """

    def __init__(self, spec: AutoencoderSpec) -> None:
        super().__init__()
        chans = _widths(spec)[::-1]
        z_channels = spec.latent_channels + spec.texture_bands
        blocks: list[nn.Module] = [nn.Conv2d(z_channels, chans[0], 3, padding=1),
                                   ResBlock(chans[0], chans[0]), ResBlock(chans[0], chans[0])]
        for k in range(len(chans) - 1):
            if spec.upsample == "subpixel":
                blocks.append(SubpixelUpsample(chans[k], chans[k + 1]))
            else:
                blocks += [nn.Upsample(scale_factor=2, mode=spec.upsample),
                           nn.Conv2d(chans[k], chans[k + 1], 3, padding=1)]
            if k < len(chans) - 2:
                blocks.append(ResBlock(chans[k + 1], chans[k + 1]))
        self.blocks = nn.Sequential(*blocks)
        self.mean_head = nn.Sequential(nn.SiLU(), nn.Conv2d(chans[-1], chans[-1], 3, padding=1),
                                       nn.SiLU(), nn.Conv2d(chans[-1], 1, 3, padding=1))
        self.noise_injection = spec.noise_injection
        self.calibrate_noise = spec.calibrate_noise
        self.calibration_quantile = spec.calibration_quantile
        self.factor, self.bands = spec.factor, spec.texture_bands
        self.amp_head = nn.Sequential(nn.Conv2d(chans[-1] + self.bands, chans[-1], 3, padding=1),
                                      nn.SiLU(), nn.Conv2d(chans[-1], spec.noise_bases, 3,
                                                           padding=1))
        nn.init.constant_(cast(torch.Tensor, self.amp_head[2].bias), -4.0)
        k = spec.noise_kernel
        self.colour = nn.Conv2d(spec.noise_bases, spec.noise_bases, k, padding=k // 2,
                                groups=spec.noise_bases, bias=False)
        with torch.no_grad():  # start white
            self.colour.weight.zero_()
            self.colour.weight[:, :, k // 2, k // 2] = 1.0

    def forward(self, z: torch.Tensor, generator: Generators = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean image in [0, 1] scale, noise texture), each (B, 1, H, W); ``generator`` is
        one for the batch or one per image (batch-independent noise)."""
        h = self.blocks(z)
        with full_precision(z):
            return self._image(z.float(), h.float(), generator)

    def _image(self, z: torch.Tensor, h: torch.Tensor, generator: Generators
               ) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (self.mean_head(h) + 1) / 2
        if not self.noise_injection:
            return mean, torch.zeros_like(mean)
        texture = z[:, -self.bands:]
        amp = nn.functional.softplus(self.amp_head(torch.cat([h, nn.functional.interpolate(
            texture, scale_factor=self.factor, mode="bilinear", align_corners=False)], 1)))
        shape = (h.shape[0], self.colour.in_channels, *h.shape[2:])
        components = []
        for k in range(self.bands):
            white = randn(shape, generator, h.device, h.dtype)
            noise = (amp * self.colour(white)).sum(1, keepdim=True)
            components.append(noise if k == 0 else binomial_blur(noise))
        if not self.calibrate_noise:
            return mean, cast(torch.Tensor, sum(components))
        return mean, calibrate(texture, mean, components, self.calibration_quantile)


class KLAutoencoder(nn.Module):
    """x in [0, 1], shape (B, 1, H, W) <-> z of shape (B, C, H/f, W/f)."""

    def __init__(self, spec: AutoencoderSpec) -> None:
        super().__init__()
        self.spec = spec
        self.encoder, self.decoder = Encoder(spec), Decoder(spec)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, (B, C + bands, H/f, W/f); the last channels are
        the deterministic texture channels (log-variance fixed very low)."""
        mean, logvar = self.encoder(x)
        with full_precision(x):
            texture = texture_channels(x.float(), self.spec.factor, self.spec.texture_bands)
        return (torch.cat([mean, texture], 1),
                torch.cat([logvar, torch.full_like(texture, -30.0)], 1))

    def decode(self, z: torch.Tensor, generator: Generators = None) -> torch.Tensor:
        """Image = mean + noise texture (seeded by ``generator``: one for the batch or one
        per image), clamped to [0, 1]; z (B, C + bands, H/f, W/f) -> (B, 1, H, W)."""
        mean, noise = self.decoder(z, generator)
        return (mean + noise).clamp(0, 1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean image, noise texture) decoded from a posterior sample, and (mean, logvar)."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        image_mean, noise = self.decoder(mu + torch.exp(0.5 * logvar) * eps, generator)
        learned = self.spec.latent_channels
        return image_mean, noise, mu[:, :learned], logvar[:, :learned]


def encode(model: KLAutoencoder, images: np.ndarray | torch.Tensor, batch: int = 64
           ) -> torch.Tensor:
    """Posterior means (N, C + bands, H/f, W/f) of images (N, 1, H, W), on the model's
    device (``medshift.latents.encode``, the device boundary)."""
    return encode_latents(model, images, None, batch)


def reconstruct(model: KLAutoencoder, images: np.ndarray, seed: int = 0, batch: int = 64
                ) -> np.ndarray:
    """decode(encode_mean(x)) with seeded texture noise, (N, 1, H, W)."""
    return reconstruct_draws(model, images, (seed,), batch)[0]


@torch.no_grad()
def reconstruct_draws(model: KLAutoencoder, images: np.ndarray, seeds: Sequence[int],
                      batch: int = 64) -> np.ndarray:
    """One decoding of the encoded ``images`` per noise seed, (len(seeds), N, 1, H, W);
    the images are encoded once."""
    z = encode(model, images, batch)
    draws = []
    for seed in seeds:
        gen = torch.Generator(device=z.device).manual_seed(seed)
        draws.append(torch.cat([model.decode(z[k:k + batch], gen)
                                for k in range(0, len(z), batch)]).cpu().numpy())
    return np.stack(draws)
