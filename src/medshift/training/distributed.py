"""torchrun/DDP helpers: gloo on CPU, nccl on CUDA; single process when not launched."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup() -> DistInfo:
    """Initialise the process group when launched by torchrun (RANK/WORLD_SIZE set)."""
    cuda = torch.cuda.is_available()
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if cuda else "gloo")
        rank = dist.get_rank()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device(
            "cpu")
        return DistInfo(rank, dist.get_world_size(), device)
    return DistInfo(0, 1, torch.device("cuda" if cuda else "cpu"))


def teardown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def mean_over_ranks(value: float, info: DistInfo) -> float:
    """All-reduce a scalar metric (mean across ranks)."""
    if not info.enabled:
        return value
    t = torch.tensor([value], device=info.device)
    dist.all_reduce(t)
    return float(t.item()) / info.world


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
