"""Loss functions (pure tensor math)."""

from __future__ import annotations

import torch


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q || N(0, I)) per element, averaged."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()


def radial_power(x: torch.Tensor, bins: int, region: torch.Tensor | None = None
                 ) -> torch.Tensor:
    """Radially binned power spectrum of each image's high-pass part, shape (B, bins).

    The image mean and its 3x3 box-filtered local mean are removed first, so the spectrum
    describes texture and noise rather than anatomy. With ``region`` (B, 1, H, W) the
    high-pass is windowed by it and the power normalised by its area.
    """
    local = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    hp = x - local
    area: float | torch.Tensor = 1.0
    if region is not None:
        hp = hp * region
        area = region.mean((1, 2, 3)).clamp_min(1e-3)[:, None]
    hp = hp[:, 0]
    power = torch.fft.rfft2(hp, norm="ortho").abs().pow(2)
    h, w = hp.shape[-2:]
    fy = torch.fft.fftfreq(h, device=x.device)[:, None]
    fx = torch.fft.rfftfreq(w, device=x.device)[None, :]
    radius = torch.sqrt(fy**2 + fx**2) / 0.5 * (bins - 1)
    index = radius.round().clamp(max=bins - 1).long().flatten()
    sums = torch.zeros(x.shape[0], bins, device=x.device, dtype=power.dtype)
    sums.index_add_(1, index, power.flatten(1))
    counts = torch.bincount(index, minlength=bins).clamp(min=1)
    return sums / counts / area


def spectral_loss(output: torch.Tensor, target: torch.Tensor, bins: int = 16,
                  region: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute difference of log radial high-pass power spectra (noise texture); with
    ``region``, measured inside it and weighted by each image's share of it."""
    eps = 1e-10
    diff = (torch.log(radial_power(output, bins, region) + eps)
            - torch.log(radial_power(target, bins, region) + eps)).abs().mean(1)
    if region is None:
        return diff.mean()
    weight = region.mean((1, 2, 3))
    return (weight * diff).sum() / weight.sum().clamp_min(1e-6)


def gradient_l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between horizontal and vertical finite differences (B, 1, H, W): its minimiser is
    the median gradient, which is zero on noise and the edge on anatomy, so it sharpens
    edges without asking for noise."""
    terms = [(output.diff(dim=d) - target.diff(dim=d)).abs().mean() for d in (-1, -2)]
    return (terms[0] + terms[1]) / 2


def flow_matching_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between predicted and conditional target velocity."""
    return (pred - target).pow(2).mean()


def local_energy_loss(output: torch.Tensor, target: torch.Tensor, window: int = 8,
                      region: torch.Tensor | None = None) -> torch.Tensor:
    """L1 between local RMS maps of the 3x3 high-pass (where and how strong the noise is);
    with ``region``, each window counts by its share of the region."""
    pool = torch.nn.functional.avg_pool2d

    def rms(x: torch.Tensor) -> torch.Tensor:
        hp = x - pool(x, 3, stride=1, padding=1, count_include_pad=False)
        return torch.sqrt(pool(hp * hp, window) + 1e-12)

    diff = (rms(output) - rms(target)).abs()
    if region is None:
        return diff.mean()
    share = pool(region, window)
    return (share * diff).sum() / share.sum().clamp_min(1e-6)


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


def hinge_discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor
                             ) -> torch.Tensor:
    """Hinge loss of a critic: real logits above +1, fake ones below -1."""
    return 0.5 * (torch.relu(1 - logits_real).mean() + torch.relu(1 + logits_fake).mean())


def adaptive_adversarial_weight(reconstruction_loss: torch.Tensor,
                                adversarial_loss: torch.Tensor, layer: torch.Tensor,
                                max_weight: float = 1e4) -> torch.Tensor:
    """Scale of the adversarial term so that its gradient at ``layer`` (the decoder's last
    weight) is as large as the reconstruction loss's (Esser et al. 2021); detached."""
    g_rec = torch.autograd.grad(reconstruction_loss, layer, retain_graph=True)[0]
    g_adv = torch.autograd.grad(adversarial_loss, layer, retain_graph=True)[0]
    return (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0, max_weight).detach()
