"""Loss functions (pure tensor math)."""

from __future__ import annotations

import torch


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q || N(0, I)) per element, averaged."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()


def radial_power(x: torch.Tensor, bins: int) -> torch.Tensor:
    """Radially binned power spectrum of each image's high-pass part, shape (B, bins).

    The image mean and its 3x3 box-filtered local mean are removed first, so the spectrum
    describes texture and noise rather than anatomy.
    """
    local = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    hp = (x - local)[:, 0]
    power = torch.fft.rfft2(hp, norm="ortho").abs().pow(2)
    h, w = hp.shape[-2:]
    fy = torch.fft.fftfreq(h, device=x.device)[:, None]
    fx = torch.fft.rfftfreq(w, device=x.device)[None, :]
    radius = torch.sqrt(fy**2 + fx**2) / 0.5 * (bins - 1)
    index = radius.round().clamp(max=bins - 1).long().flatten()
    sums = torch.zeros(x.shape[0], bins, device=x.device, dtype=power.dtype)
    sums.index_add_(1, index, power.flatten(1))
    counts = torch.bincount(index, minlength=bins).clamp(min=1)
    return sums / counts


def spectral_loss(output: torch.Tensor, target: torch.Tensor, bins: int = 16) -> torch.Tensor:
    """Mean absolute difference of log radial high-pass power spectra (noise texture)."""
    eps = 1e-10
    return (torch.log(radial_power(output, bins) + eps)
            - torch.log(radial_power(target, bins) + eps)).abs().mean()


def flow_matching_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between predicted and conditional target velocity."""
    return (pred - target).pow(2).mean()


def local_energy_loss(output: torch.Tensor, target: torch.Tensor, window: int = 8
                      ) -> torch.Tensor:
    """L1 between local RMS maps of the 3x3 high-pass (where and how strong the noise is)."""
    def rms(x: torch.Tensor) -> torch.Tensor:
        hp = x - torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1,
                                                count_include_pad=False)
        return torch.sqrt(torch.nn.functional.avg_pool2d(hp * hp, window) + 1e-12)

    return (rms(output) - rms(target)).abs().mean()


def feature_statistics_loss(maps_out: list[torch.Tensor], maps_target: list[torch.Tensor]
                            ) -> torch.Tensor:
    """L1 between per-channel spatial means and stds of feature maps, averaged over layers.

    A texture (style) loss in a learned X-ray feature space: it compares statistics, not
    positions, so random noise is matched in kind and level rather than pixel for pixel.
    """
    terms = []
    for a, b in zip(maps_out, maps_target, strict=True):
        terms.append((a.mean((2, 3)) - b.mean((2, 3))).abs().mean()
                     + (a.std((2, 3)) - b.std((2, 3))).abs().mean())
    return torch.stack(terms).mean()
