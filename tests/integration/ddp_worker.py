"""Run by torchrun in test_ddp.py: a few DDP steps, then each rank reports its weights."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from medshift.config.autoencoder import AutoencoderConfig
from medshift.config.velocity import VelocityConfig
from medshift.models.autoencoder import AutoencoderSpec
from medshift.models.velocity import VelocityArchitecture
from medshift.training.autoencoder import train_autoencoder
from medshift.training.distributed import setup, teardown
from medshift.training.velocity import train_velocity


def main() -> None:
    out = Path(sys.argv[1])
    info = setup()
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(2).repeat_interleave(8)
    latents = labels.float().view(-1, 1, 1, 1) + 0.1 * torch.randn(16, 2, 8, 8, generator=gen)
    cfg = VelocityConfig(model=VelocityArchitecture(8, (1, 2)), steps=6, batch_size=8,
                         warmup_steps=2, log_every=2, checkpoint_every=3, sample_every=100)
    model, _ = train_velocity(cfg, latents, labels, 2, info, out / "ckpt")
    images = (0.5 + 0.05 * torch.randn(8, 1, 32, 32, generator=gen)).clamp(0, 1).numpy()
    small = AutoencoderSpec(latent_channels=4, base_channels=16, noise_bases=3, noise_kernel=5,
                            calibration_quantile=None, texture_bands=1)
    ae_cfg = AutoencoderConfig(model=small, steps=4, batch_size=4, crop=16, edge_weight=0.0,
                               log_every=2, checkpoint_every=2, adversarial_weight=0.5,
                               adversarial_start=1)
    autoencoder = train_autoencoder(ae_cfg, images, info, out / "ae_ckpt")
    totals = [sum(float(p.double().sum()) for p in m.parameters())
              for m in (model, autoencoder)]
    (out / f"rank{info.rank}.txt").write_text(f"{info.world} {totals[0]:.12e} "
                                              f"{totals[1]:.12e}\n")
    teardown(info)


if __name__ == "__main__":
    main()
