"""1-channel KL autoencoder with seeded noise injection in the decoder.

The encoder gives a diagonal Gaussian q(z|x) (mean, log-variance) at 1/``factor`` of the
image size. The decoder splits the image into a deterministic mean (trained with L1) and a
learned noise texture (trained with spectral and local-energy losses): plain pixel losses
make an autoencoder a denoiser, and dose classes differ mostly in noise. The noise comes
from an explicit generator, so decoding is deterministic per seed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from medshift.models.layers import (
    ResBlock,
    SubpixelUpsample,
    noise_filter,
    norm,
    texture_region,
)


@dataclass(frozen=True)
class AutoencoderSpec:
    """Architecture hyper-parameters stored with the weights."""

    factor: int = 4
    latent_channels: int = 4
    base_channels: int = 32
    noise_injection: bool = True
    calibrate_noise: bool = True
    noise_bases: int = 3    # coloured white-noise bases the decoder mixes
    noise_kernel: int = 5   # side of each basis's colouring kernel (odd)
    upsample: str = "nearest"  # decoder x2 steps: "nearest" + conv, or "subpixel"
    robust_calibration: bool = False  # noise gain from the flattest cells' median, not a sum

    def to_dict(self) -> dict:
        return asdict(self)


def _widths(spec: AutoencoderSpec) -> list[int]:
    """Channels per level, full resolution first: thin where pixels are many (CPU speed)."""
    levels = int(math.log2(spec.factor))
    return [max(8, spec.base_channels // 2) * 2**k for k in range(levels + 1)]


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
        mean, logvar = self.net(x * 2 - 1).chunk(2, dim=1)
        return mean, logvar.clamp(-30, 20)


def texture_channel(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Log RMS of the Immerkaer noise filter per factor x factor block, (B, 1, H/f, W/f).

    For white noise of std s the filter output has std s, so this is a local noise level
    (plus edge energy). It is an explicit latent channel: learned KL latents did not carry
    noise level within the CPU budget (see the issue note), and dose classes differ in it.
    """
    response = noise_filter(x)
    rms = torch.sqrt(torch.nn.functional.avg_pool2d(response * response, factor) + 1e-8)
    return (torch.log(rms) + 5.0) / 2.0


def texture_power(texture: torch.Tensor) -> torch.Tensor:
    """Noise-filter power per latent cell from a texture channel (inverts
    ``texture_channel``: rms^2 = exp(4 t - 10))."""
    return torch.exp(4.0 * texture - 10.0)


def _masked_median(values: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Per-image median (B,) of ``values`` (B, 1, h, w) where ``keep`` is true."""
    nan = torch.full_like(values, float("nan"))
    return torch.where(keep, values, nan).flatten(1).nanmedian(1).values


def noise_gain(texture: torch.Tensor, mean: torch.Tensor, noise: torch.Tensor,
               robust: bool = False) -> torch.Tensor:
    """Per-image gain (B, 1, 1, 1) that gives mean + gain * noise the noise-filter power the
    texture channel records (independent parts add in power), over the latent cells
    inside the mean image's texture region: summed, or with ``robust`` the median of the
    cells where the mean is flattest (the half with the least noise-filter power).

    One number per image: a per-cell gain put noise on blurred edges, which the domain
    classifier read as processed 'exposure' images. Field, collimator and saturation edges
    are left out: their filter power is structure, and counting it (up to 96 % of a
    synthetic image's power) starved the flat anatomy of noise (see the issue note). The
    robust gain measures noise where it is measured in practice, in flat anatomy: a mean
    that overshoots some edges cannot cancel the budget of the rest (the sum then turned
    the noise off), and one that blurs them does not count their deficit as noise.
    """
    factor = mean.shape[-1] // texture.shape[-1]
    cells = lambda a: nn.functional.avg_pool2d(a, factor)  # noqa: E731
    weight = cells(texture_region(mean))
    weight = torch.where(weight.sum((1, 2, 3), keepdim=True) > 0, weight,
                         torch.ones_like(weight))  # no texture region: the whole image
    structure = cells(noise_filter(mean).pow(2))
    wanted = texture_power(texture) - structure
    own = cells(noise_filter(noise).pow(2))
    if robust:
        inside = weight > 0.999
        inside = inside | ~inside.any((1, 2, 3), keepdim=True)  # none inside: every cell
        # the flatter half of the mean: its anatomy deficit is not counted as noise
        inside = inside & (structure <= _masked_median(structure, inside).view(-1, 1, 1, 1))
        wanted = _masked_median(wanted, inside)
        own = _masked_median(own, inside).clamp_min(1e-12)
    else:
        wanted = (weight * wanted).sum((1, 2, 3))
        own = (weight * own).sum((1, 2, 3)).clamp_min(1e-12)
    return torch.sqrt(wanted.clamp_min(0.0) / own + 1e-12).view(-1, 1, 1, 1)  # finite grad


class Decoder(nn.Module):
    """Deterministic mean image plus learned, locally modulated noise texture.

    ``noise`` = sum_k a_k(z) * (g_k * n_k): ``noise_bases`` white noises n_k coloured by
    learned ``noise_kernel``-wide kernels g_k, mixed per pixel by amplitudes a_k predicted
    from the latent. White, low-pass and
    band-pass textures (synthetic vs fluoroscopy vs exposure) are all representable.
    """

    def __init__(self, spec: AutoencoderSpec) -> None:
        super().__init__()
        chans = _widths(spec)[::-1]
        blocks: list[nn.Module] = [nn.Conv2d(spec.latent_channels + 1, chans[0], 3, padding=1),
                                   ResBlock(chans[0], chans[0]), ResBlock(chans[0], chans[0])]
        for k in range(len(chans) - 1):
            if spec.upsample == "subpixel":
                blocks.append(SubpixelUpsample(chans[k], chans[k + 1]))
            else:
                blocks += [nn.Upsample(scale_factor=2, mode="nearest"),
                           nn.Conv2d(chans[k], chans[k + 1], 3, padding=1)]
            if k < len(chans) - 2:
                blocks.append(ResBlock(chans[k + 1], chans[k + 1]))
        self.blocks = nn.Sequential(*blocks)
        self.mean_head = nn.Sequential(nn.SiLU(), nn.Conv2d(chans[-1], chans[-1], 3, padding=1),
                                       nn.SiLU(), nn.Conv2d(chans[-1], 1, 3, padding=1))
        self.noise_injection = spec.noise_injection
        self.calibrate_noise = spec.calibrate_noise
        self.robust_calibration = spec.robust_calibration
        self.factor = spec.factor
        self.amp_head = nn.Sequential(nn.Conv2d(chans[-1] + 1, chans[-1], 3, padding=1),
                                      nn.SiLU(), nn.Conv2d(chans[-1], spec.noise_bases, 3,
                                                           padding=1))
        nn.init.constant_(self.amp_head[2].bias, -4.0)
        k = spec.noise_kernel
        self.colour = nn.Conv2d(spec.noise_bases, spec.noise_bases, k, padding=k // 2,
                                groups=spec.noise_bases, bias=False)
        with torch.no_grad():  # start white
            self.colour.weight.zero_()
            self.colour.weight[:, :, k // 2, k // 2] = 1.0

    def forward(self, z: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean image in [0, 1] scale, noise texture), each (B, 1, H, W)."""
        h = self.blocks(z)
        mean = (self.mean_head(h) + 1) / 2
        if not self.noise_injection:
            return mean, torch.zeros_like(mean)
        shape = (h.shape[0], self.colour.in_channels, *h.shape[2:])
        white = torch.randn(shape, generator=generator, device=h.device, dtype=h.dtype)
        texture = nn.functional.interpolate(z[:, -1:], scale_factor=self.factor, mode="bilinear",
                                            align_corners=False)
        amp = nn.functional.softplus(self.amp_head(torch.cat([h, texture], dim=1)))
        noise = (amp * self.colour(white)).sum(1, keepdim=True)
        if self.calibrate_noise:
            noise = noise * noise_gain(z[:, -1:], mean.detach(), noise,
                                       self.robust_calibration)
        return mean, noise


class KLAutoencoder(nn.Module):
    """x in [0, 1], shape (B, 1, H, W) <-> z of shape (B, C, H/f, W/f)."""

    def __init__(self, spec: AutoencoderSpec) -> None:
        super().__init__()
        self.spec = spec
        self.encoder, self.decoder = Encoder(spec), Decoder(spec)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, (B, C + 1, H/f, W/f); the last channel is the
        deterministic texture channel (log-variance fixed very low)."""
        mean, logvar = self.encoder(x)
        texture = texture_channel(x, self.spec.factor)
        return (torch.cat([mean, texture], 1),
                torch.cat([logvar, torch.full_like(texture, -30.0)], 1))

    def decode(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Image = mean + noise texture (seeded by ``generator``), clamped to [0, 1]."""
        mean, noise = self.decoder(z, generator)
        return (mean + noise).clamp(0, 1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean image, noise texture) decoded from a posterior sample, and (mean, logvar)."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        image_mean, noise = self.decoder(mu + torch.exp(0.5 * logvar) * eps, generator)
        return image_mean, noise, mu[:, :-1], logvar[:, :-1]
