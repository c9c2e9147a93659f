"""Fixed-grid ODE integration through torchdiffeq; a descending grid integrates backward."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchdiffeq import odeint

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (t scalar, x) -> v
METHODS = {"euler": ("euler", 1), "midpoint": ("midpoint", 2), "heun": ("heun2", 2),
           "rk4": ("rk4", 4)}


def time_grid(t_start: float, t_end: float, nfe: int, method: str) -> torch.Tensor:
    """Uniform grid from t_start to t_end with as many steps as ``nfe`` evaluations allow."""
    if method not in METHODS:
        raise ValueError(f"unknown solver {method!r}; choose from {sorted(METHODS)}")
    steps = max(1, nfe // METHODS[method][1])
    return torch.linspace(t_start, t_end, steps + 1)


def solve(velocity: VelocityFn, x: torch.Tensor, grid: torch.Tensor, method: str,
          on_step: Callable[[int], None] | None = None) -> torch.Tensor:
    """x at grid[-1] from x at grid[0], integrating dx/dt = velocity(t, x)."""
    calls = [0]

    def func(t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if on_step is not None:
            on_step(calls[0])
        return velocity(t, state)

    return odeint(func, x, grid.to(x), method=METHODS[method][0])[-1]
