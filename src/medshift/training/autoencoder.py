"""Train the texture-preserving autoencoder; encode and reconstruct with it."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import torch

from medshift.config.autoencoder import AutoencoderConfig
from medshift.models.autoencoder import KLAutoencoder
from medshift.models.classifier import DomainClassifier
from medshift.models.discriminator import PatchDiscriminator
from medshift.precision import bf16_autocast, use_bf16
from medshift.signal import texture_region
from medshift.training.augment import crop_and_flip
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
    with ``feature_net`` (a frozen X-ray classifier) also its feature-statistics loss.
    With ``cfg.bf16`` the convolutional trunks run under bf16 autocast; the losses do not."""
    torch.manual_seed(cfg.seed)
    model = KLAutoencoder(cfg.model).to(info.device)
    if feature_net is not None:
        feature_net = feature_net.to(info.device).eval().requires_grad_(False)
    net = torch.nn.parallel.DistributedDataParallel(model) if info.enabled else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                  warmup_cosine(min(100, cfg.steps), cfg.steps))
    adversary = Adversary(info, cfg.lr) if cfg.adversarial_weight > 0 else None
    bf16 = use_bf16(cfg.bf16, info.device)
    state = TrainState({"autoencoder": net}, optimizer, scheduler,
                       extra={"adversary": adversary} if adversary is not None else {})

    def step_fn(batch: tuple[torch.Tensor, ...], gen: torch.Generator) -> dict:
        x = crop_and_flip(batch[0], cfg.crop, gen)
        with bf16_autocast(bf16, info.device):
            mean, noise, mu, logvar = net(x, gen)  # the model keeps heads and noise in fp32
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
                l1, terms["adversarial"],
                cast(torch.Tensor, model.decoder.mean_head[-1].weight))
            loss = loss + weight * terms["adversarial"]
            terms["adversarial_weight"] = weight
        return {"loss": loss, **terms}

    loop = LoopConfig(cfg.steps, cfg.batch_size, cfg.seed, cfg.checkpoint_every, cfg.log_every,
                      desc="autoencoder (bf16 trunks)" if bf16 else "autoencoder",
                      fingerprint=cfg.run_fingerprint())
    run(state, (torch.from_numpy(images),), step_fn, loop, info, checkpoint_dir, on_step,
        on_checkpoint=on_checkpoint)
    return model.eval()
