"""Train the class-conditional velocity model on normalised latents (DVC stage `velocity`)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import torch

from medshift.config.velocity import VelocityConfig
from medshift.flow.paths import sample_path
from medshift.models.velocity import VelocitySpec, VelocityUNet
from medshift.precision import bf16_autocast, use_bf16
from medshift.training.distributed import DistInfo
from medshift.training.ema import EMA
from medshift.training.loop import LoopConfig, OnStep, TrainState, run, warmup_cosine
from medshift.training.losses import flow_matching_loss


def train_velocity(cfg: VelocityConfig, latents: torch.Tensor, labels: torch.Tensor,
                   n_classes: int, info: DistInfo, checkpoint_dir: Path,
                   on_step: OnStep | None = None, on_checkpoint=None, on_sample=None
                   ) -> tuple[VelocityUNet, VelocityUNet]:
    """Returns (model, EMA model). Labels are replaced by the null label with p_uncond.

    ``on_sample(step, ema_model)`` is called every ``cfg.sample_every`` steps and at the end.
    """
    torch.manual_seed(cfg.seed)
    spec = VelocitySpec(latents.shape[1], n_classes, cfg.model)
    model = VelocityUNet(spec).to(info.device)
    net = torch.nn.parallel.DistributedDataParallel(model) if info.enabled else model
    ema = EMA(model, cfg.ema_decay)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                  warmup_cosine(cfg.warmup_steps, cfg.steps))
    state = TrainState({"velocity": net}, optimizer, scheduler, {"ema": ema})
    bf16 = use_bf16(cfg.bf16, info.device)

    def step_fn(batch: tuple[torch.Tensor, ...], gen: torch.Generator) -> dict:
        x1, y = batch
        where = gen.device  # the loop's generator lives on the batch's device
        if torch.rand(1, generator=gen, device=where) < 0.5:
            x1 = x1.flip(-1)
        x0 = torch.randn(x1.shape, generator=gen, device=where).to(x1)
        t = torch.rand(len(x1), generator=gen, device=where).to(x1)
        drop = torch.rand(len(y), generator=gen, device=where).to(x1.device) < cfg.p_uncond
        y = torch.where(drop, torch.full_like(y, spec.null_label), y)
        path = sample_path(x1, x0, t, cfg.sigma_min)
        with bf16_autocast(bf16, info.device):
            pred = net(path.x_t, t, y)
        return {"loss": flow_matching_loss(pred.float(), path.velocity)}

    loop = LoopConfig(cfg.steps, cfg.batch_size, cfg.seed, cfg.checkpoint_every, cfg.log_every,
                      cfg.grad_clip, desc="velocity (bf16)" if bf16 else "velocity",
                      fingerprint=repr((cfg.run_fingerprint(), n_classes)))
    sampled: set[int] = set()

    def report(step: int, metrics: dict[str, float]) -> None:
        if on_step is not None:
            on_step(step, metrics)
        if (on_sample is not None and step >= state.step and step not in sampled
                and (step % cfg.sample_every == 0 or step == cfg.steps)):
            sampled.add(step)
            on_sample(step, ema.model)

    run(state, (latents, labels), step_fn, loop, info, checkpoint_dir, report,
        after_update=lambda: ema.update(model), on_checkpoint=on_checkpoint)
    if on_sample is not None and cfg.steps not in sampled:  # resumed at the very end
        on_sample(cfg.steps, ema.model)
    return model.eval(), cast(VelocityUNet, ema.model)
