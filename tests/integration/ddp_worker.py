"""Run by torchrun in test_ddp.py: a few DDP steps, then each rank reports its weights."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from medshift.config import TrainConfig
from medshift.training.distributed import setup, teardown
from medshift.training.flow import train_flow


def main() -> None:
    out = Path(sys.argv[1])
    info = setup()
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(2).repeat_interleave(8)
    latents = labels.float().view(-1, 1, 1, 1) + 0.1 * torch.randn(16, 2, 8, 8, generator=gen)
    cfg = TrainConfig(base_channels=8, channel_mults=(1, 2), steps=6, batch_size=8,
                      warmup_steps=2, log_every=2, checkpoint_every=3, sample_every=100)
    model, _ = train_flow(cfg, latents, labels, 2, info, out / "ckpt")
    total = sum(float(p.double().sum()) for p in model.parameters())
    (out / f"rank{info.rank}.txt").write_text(f"{info.world} {total:.12e}\n")
    teardown(info)


if __name__ == "__main__":
    main()
