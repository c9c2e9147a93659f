"""A resumable, seeded training loop shared by the autoencoder and the flow model.

Every random draw of step k comes from a generator seeded by (seed, k), and batches come
from a DistributedSampler epoch permutation indexed by k, so a run resumed from step k's
checkpoint continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import torch
from torch.utils.data import Dataset, DistributedSampler
from tqdm import tqdm

from medshift.training.checkpoint import load_latest, save_checkpoint
from medshift.training.distributed import DistInfo, barrier, mean_over_ranks

StepFn = Callable[[tuple[torch.Tensor, ...], torch.Generator], dict[str, torch.Tensor]]
OnStep = Callable[[int, dict[str, float]], None]


@dataclass
class TrainState:
    """What a checkpoint holds: named modules, optimiser, schedule, optional EMA, step."""

    modules: dict[str, torch.nn.Module]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    extra: dict[str, Any] = field(default_factory=dict)  # objects with state_dict()
    step: int = 0

    def state_dict(self) -> dict:
        return {"step": self.step,
                "modules": {k: _unwrap(m).state_dict() for k, m in self.modules.items()},
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "extra": {k: v.state_dict() for k, v in self.extra.items()}}

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.modules.items():
            _unwrap(m).load_state_dict(state["modules"][k])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        for k, v in self.extra.items():
            v.load_state_dict(state["extra"][k])
        self.step = int(state["step"])


def _unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside a DDP wrapper (checkpoints never carry 'module.' keys)."""
    return cast(torch.nn.Module, module.module) if hasattr(module, "module") else module


def step_generator(seed: int, step: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator for all randomness of one step, on the device of the step's tensors
    (a CUDA sampler refuses a CPU generator)."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + step)


def warmup_cosine(warmup: int, total: int) -> Callable[[int], float]:
    """LR multiplier: linear warm-up, then cosine decay to 10 %."""
    import math

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return factor


@dataclass(frozen=True)
class LoopConfig:
    steps: int
    batch_size: int
    seed: int
    checkpoint_every: int
    log_every: int
    grad_clip: float = 1.0
    desc: str = "train"
    fingerprint: str = ""   # the full training configuration; see ``run_key``


CHECKPOINT_FORMAT = 2  # bump when the meaning of saved state changes (2: EMA warm-up)


def run_key(fingerprint: str, data: tuple[torch.Tensor, ...]) -> str:
    """Identity of a training run: checkpoint format, configuration and the exact training
    tensors. Only checkpoints with the same key are resumed (a changed param must not
    resume a stale run)."""
    h = hashlib.sha256(f"{CHECKPOINT_FORMAT}:{fingerprint}".encode())
    for tensor in data:
        h.update(str((tuple(tensor.shape), str(tensor.dtype))).encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=2)
def _epoch_order(n: int, world: int, rank: int, seed: int, epoch: int) -> tuple[int, ...]:
    """This rank's DistributedSampler order for one epoch (computed once per epoch)."""
    indices = cast(Dataset[int], range(n))  # the sampler only takes its length
    sampler: DistributedSampler[int] = DistributedSampler(
        indices, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True)
    sampler.set_epoch(epoch)
    return tuple(iter(sampler))


def batch_indices(n: int, cfg: LoopConfig, info: DistInfo, step: int) -> list[int]:
    """This rank's sample indices for ``step`` (DistributedSampler epochs, drop_last)."""
    per_rank = max(1, cfg.batch_size // info.world)
    per_epoch = max(1, (n // info.world) // per_rank)
    order = _epoch_order(n, info.world, info.rank, cfg.seed, step // per_epoch)
    offset = (step % per_epoch) * per_rank
    return [order[(offset + k) % len(order)] for k in range(per_rank)]


def run(state: TrainState, data: tuple[torch.Tensor, ...], step_fn: StepFn, cfg: LoopConfig,
        info: DistInfo, checkpoint_dir: Path, on_step: OnStep | None = None,
        after_update: Callable[[], None] | None = None,
        on_checkpoint: Callable[[int, Path], None] | None = None) -> TrainState:
    """Train to ``cfg.steps`` from the newest valid checkpoint (if any)."""
    key = run_key(cfg.fingerprint, data)
    resumed = load_latest(checkpoint_dir, key)
    history: list[tuple[int, dict[str, float]]] = []
    if resumed is not None:
        state.load_state_dict(resumed[1])
        history = list(resumed[1].get("history", []))
        if info.is_main:
            print(f"resumed {cfg.desc} from step {state.step}")
            for logged_step, logged in history:  # a resumed run reports the whole curve
                if on_step is not None:
                    on_step(logged_step, logged)
    params = [p for m in state.modules.values() for p in m.parameters() if p.requires_grad]
    bar = tqdm(total=cfg.steps, initial=state.step, desc=cfg.desc, disable=not info.is_main)
    tick, samples = time.perf_counter(), 0
    while state.step < cfg.steps:
        step = state.step
        gen = step_generator(cfg.seed, step * 64 + info.rank, info.device)
        index = batch_indices(len(data[0]), cfg, info, step)
        batch = tuple(d[index].to(info.device) for d in data)
        losses = step_fn(batch, gen)
        state.optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        state.optimizer.step()
        state.scheduler.step()
        if after_update is not None:
            after_update()
        state.step += 1
        samples += len(index) * info.world
        bar.update()
        if on_step is not None and (state.step % cfg.log_every == 0 or state.step == cfg.steps):
            elapsed = time.perf_counter() - tick
            metrics = {k: mean_over_ranks(float(v.detach()), info) for k, v in losses.items()}
            metrics.update(grad_norm=float(grad_norm), lr=float(state.scheduler.get_last_lr()[0]),
                           samples_per_s=samples / max(elapsed, 1e-9))
            tick, samples = time.perf_counter(), 0
            history.append((state.step, metrics))
            if info.is_main:
                on_step(state.step, metrics)
        if state.step % cfg.checkpoint_every == 0 or state.step == cfg.steps:
            if info.is_main:
                path = save_checkpoint(checkpoint_dir, state.step,
                                       {**state.state_dict(), "run_key": key,
                                        "history": history})
                if on_checkpoint is not None:
                    on_checkpoint(state.step, path)
            barrier(info)
    bar.close()
    return state
