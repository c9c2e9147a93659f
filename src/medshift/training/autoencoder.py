"""Train the texture-preserving autoencoder and the X-ray domain classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from medshift.config import AutoencoderConfig
from medshift.models.autoencoder import AutoencoderSpec, KLAutoencoder
from medshift.models.classifier import DomainClassifier
from medshift.models.discriminator import PatchDiscriminator
from medshift.models.layers import texture_region
from medshift.training.distributed import DistInfo
from medshift.training.loop import LoopConfig, OnStep, TrainState, run, warmup_cosine
from medshift.training.losses import (
    adaptive_adversarial_weight,
    feature_statistics_loss,
    gradient_l1,
    hinge_discriminator_loss,
    kl_divergence,
    local_energy_loss,
    spectral_loss,
)


def spec_from(cfg: AutoencoderConfig) -> AutoencoderSpec:
    return AutoencoderSpec(cfg.factor, cfg.latent_channels, cfg.base_channels,
                           cfg.noise_injection, cfg.calibrate_noise, cfg.noise_bases,
                           cfg.noise_kernel, cfg.upsample,
                           cfg.calibration_quantile, cfg.texture_bands)


def _random_crop(x: torch.Tensor, crop: int, gen: torch.Generator) -> torch.Tensor:
    """One random crop position per batch (the step's generator)."""
    h, w = x.shape[-2:]
    i = int(torch.randint(0, h - crop + 1, (1,), generator=gen))
    j = int(torch.randint(0, w - crop + 1, (1,), generator=gen))
    return x[..., i:i + crop, j:j + crop]


def _crop_and_flip(x: torch.Tensor, crop: int, gen: torch.Generator) -> torch.Tensor:
    """One random crop position and flip pair per step (the step's generator)."""
    x = _random_crop(x, crop, gen)
    flips = torch.rand(2, generator=gen)
    if flips[0] < 0.5:
        x = x.flip(-1)
    if flips[1] < 0.5:
        x = x.flip(-2)
    return x


class Adversary:
    """The patch critic and its own optimiser, checkpointed with the autoencoder.

    The critic is updated on each batch (real crops vs detached reconstructions) before the
    autoencoder's step; the autoencoder then sees its logits through the frozen critic.
    """

    def __init__(self, info: DistInfo, lr: float) -> None:
        self.critic = PatchDiscriminator().to(info.device)
        self.net = (torch.nn.parallel.DistributedDataParallel(self.critic) if info.enabled
                    else self.critic)
        self.optimizer = torch.optim.AdamW(self.critic.parameters(), lr=lr, betas=(0.5, 0.9),
                                           weight_decay=0.0)
        self.critic.requires_grad_(False)

    def update(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """One hinge step of the critic; returns its loss."""
        self.critic.requires_grad_(True)
        logits_real, logits_fake = self.net(torch.cat([real, fake.detach()])).chunk(2)
        loss = hinge_discriminator_loss(logits_real, logits_fake)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.critic.requires_grad_(False)
        return loss.detach()

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return -self.critic(fake).mean()

    def state_dict(self) -> dict:
        return {"critic": self.critic.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.critic.load_state_dict(state["critic"])
        self.optimizer.load_state_dict(state["optimizer"])


def train_autoencoder(cfg: AutoencoderConfig, images: np.ndarray, info: DistInfo,
                      checkpoint_dir: Path, on_step: OnStep | None = None,
                      on_checkpoint=None, feature_net: DomainClassifier | None = None
                      ) -> KLAutoencoder:
    """L1 on the mean image + spectral and local-energy losses on mean + noise + small KL;
    with ``feature_net`` (a frozen X-ray classifier) also its feature-statistics loss."""
    torch.manual_seed(cfg.seed)
    model = KLAutoencoder(spec_from(cfg)).to(info.device)
    if feature_net is not None:
        feature_net = feature_net.to(info.device).eval().requires_grad_(False)
    net = torch.nn.parallel.DistributedDataParallel(model) if info.enabled else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                  warmup_cosine(min(100, cfg.steps), cfg.steps))
    adversary = Adversary(info, cfg.lr) if cfg.adversarial_weight > 0 else None
    state = TrainState({"autoencoder": net}, optimizer, scheduler,
                       extra={"adversary": adversary} if adversary is not None else {})

    def step_fn(batch: tuple[torch.Tensor, ...], gen: torch.Generator) -> dict:
        x = _crop_and_flip(batch[0], cfg.crop, gen)
        mean, noise, mu, logvar = net(x, gen)
        rec = mean + noise
        l1 = (mean - x).abs().mean()
        # texture is matched where it is measured: field, collimator and saturation edges
        # are structure for L1 (they held up to 96 % of a crop's high-pass power)
        region = texture_region(x)
        spectral = spectral_loss(rec, x, region=region)
        local = local_energy_loss(rec, x, region=region)
        kl = kl_divergence(mu, logvar)
        loss = l1 + cfg.spectral_weight * (0.3 * spectral + 5.0 * local) + cfg.kl_weight * kl
        terms = {"l1": l1, "spectral": spectral, "local_energy": local, "kl": kl}
        if cfg.edge_weight > 0:
            terms["edge"] = gradient_l1(mean, x)
            loss = loss + cfg.edge_weight * terms["edge"]
        if feature_net is not None:
            with torch.no_grad():
                target_maps = feature_net.feature_maps(x)
            # texture statistics are the noise branch's job: the mean image stays the
            # L1 estimate (letting this loss move it cost 4.5 dB PSNR at weight 0.3)
            terms["perceptual"] = feature_statistics_loss(
                feature_net.feature_maps(mean.detach() + noise), target_maps)
            loss = loss + cfg.perceptual_weight * terms["perceptual"]
        if adversary is not None and state.step >= cfg.adversarial_start:
            terms["critic"] = adversary.update(x, rec)
            terms["adversarial"] = adversary.generator_loss(rec)
            # balanced at the mean head's last weight against L1 (what keeps anatomy)
            weight = cfg.adversarial_weight * adaptive_adversarial_weight(
                l1, terms["adversarial"], model.decoder.mean_head[-1].weight)
            loss = loss + weight * terms["adversarial"]
            terms["adversarial_weight"] = weight
        return {"loss": loss, **terms}

    loop = LoopConfig(cfg.steps, cfg.batch_size, cfg.seed, cfg.checkpoint_every, cfg.log_every,
                      desc="autoencoder", fingerprint=repr(sorted(cfg.__dict__.items())))
    run(state, (torch.from_numpy(images),), step_fn, loop, info, checkpoint_dir, on_step,
        on_checkpoint=on_checkpoint)
    return model.eval()


@torch.no_grad()
def encode(model: KLAutoencoder, images: np.ndarray | torch.Tensor, batch: int = 64
           ) -> torch.Tensor:
    """Posterior means (N, C + 1, H/f, W/f) of images (N, 1, H, W)."""
    x = torch.as_tensor(images)
    return torch.cat([model.encode(x[k:k + batch])[0] for k in range(0, len(x), batch)])


@torch.no_grad()
def reconstruct(model: KLAutoencoder, images: np.ndarray, seed: int = 0, batch: int = 64
                ) -> np.ndarray:
    """decode(encode_mean(x)) with seeded texture noise."""
    gen = torch.Generator().manual_seed(seed)
    z = encode(model, images, batch)
    return torch.cat([model.decode(z[k:k + batch], gen) for k in range(0, len(z), batch)]
                     ).numpy()


def _augment(x: torch.Tensor, gen: torch.Generator, shift: int) -> torch.Tensor:
    """Per-image flips on both axes and one shift of up to ``shift`` px (edges replicated):
    views the class does not depend on, so the classifier learns none of them."""
    flips = torch.rand(x.shape[0], 2, generator=gen) < 0.5
    x = torch.where(flips[:, 0, None, None, None], x.flip(-1), x)
    x = torch.where(flips[:, 1, None, None, None], x.flip(-2), x)
    if shift:
        padded = nn.functional.pad(x, (shift,) * 4, mode="replicate")
        i, j = torch.randint(0, 2 * shift + 1, (2,), generator=gen).tolist()
        x = padded[..., i:i + x.shape[-2], j:j + x.shape[-1]]
    return x


def train_classifier(images: np.ndarray, labels: np.ndarray, n_classes: int, steps: int,
                     seed: int = 0, batch: int = 32, crop: int | None = None,
                     lr: float = 2e-3) -> DomainClassifier:
    """The X-ray domain/dose classifier on training images, with flips and small shifts as
    augmentation and a one-cycle learning rate; with ``crop``, on random crops of that size
    (a texture feature network for crop training).

    Without the augmentation a flipped or 1-px shifted test image moved the accuracy of
    real_low by up to 32 points, more than the 10 the autoencoder check allows.
    """
    torch.manual_seed(seed)
    model = DomainClassifier(n_classes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps,
                                                   pct_start=0.1)
    x, y = torch.from_numpy(images), torch.from_numpy(labels.copy())
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=gen)
        xb = _augment(x[idx], gen, shift=0 if crop else 3)
        if crop is not None:
            xb = _random_crop(xb, crop, gen)
        loss = nn.functional.cross_entropy(model(xb), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()


@torch.no_grad()
def predict(model: DomainClassifier, images: np.ndarray, batch: int = 64) -> np.ndarray:
    """Class ids (N,), from class probabilities averaged over the four flips of each image."""
    x = torch.as_tensor(images)
    probs = []
    for k in range(0, len(x), batch):
        xb = x[k:k + batch]
        views = (xb, xb.flip(-1), xb.flip(-2), xb.flip(-1).flip(-2))
        probs.append(sum(torch.softmax(model(v), 1) for v in views))
    return torch.cat(probs).argmax(1).numpy()
