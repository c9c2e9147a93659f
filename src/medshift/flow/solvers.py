"""ODE integration through torchdiffeq; a descending grid integrates backward.

Fixed-step solvers (euler, midpoint, heun, rk4) run on a uniform time grid sized by an
evaluation budget; the adaptive solver dopri5 (Dormand-Prince 5(4)) chooses its own steps
under ``rtol``/``atol`` and is given only the two endpoints.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchdiffeq import odeint

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (t scalar, x) -> v
# solver name -> (torchdiffeq method, velocity evaluations per step); None: adaptive
METHODS: dict[str, tuple[str, int | None]] = {
    "euler": ("euler", 1), "midpoint": ("midpoint", 2), "heun": ("heun2", 2), "rk4": ("rk4", 4),
    "dopri5": ("dopri5", None)}
FIXED_STEP = tuple(name for name, (_, per_step) in METHODS.items() if per_step is not None)


def check_method(method: str) -> None:
    """Raise ValueError naming the valid solvers when ``method`` is not one of them."""
    if method not in METHODS:
        raise ValueError(f"unknown solver {method!r}; choose from {sorted(METHODS)}")


def time_grid(t_start: float, t_end: float, nfe: int, method: str) -> torch.Tensor:
    """Uniform grid from t_start to t_end with as many steps as ``nfe`` evaluations allow.

    Args:
        t_start, t_end: integration endpoints (t_end < t_start integrates backward).
        nfe: velocity evaluations for this leg; at least one step is always taken.
        method: a solver name; for the adaptive dopri5 the grid is just the endpoints.

    Returns:
        (steps + 1,) float32 times.

    Raises:
        ValueError: unknown solver.
    """
    check_method(method)
    per_step = METHODS[method][1]
    if per_step is None:
        return torch.tensor([t_start, t_end], dtype=torch.float32)
    steps = max(1, nfe // per_step)
    return torch.linspace(t_start, t_end, steps + 1)


def solve(velocity: VelocityFn, x: torch.Tensor, grid: torch.Tensor, method: str,
          on_step: Callable[[int], None] | None = None, rtol: float = 1e-3,
          atol: float = 1e-4) -> torch.Tensor:
    """x at grid[-1] from x at grid[0], integrating dx/dt = velocity(t, x).

    Args:
        velocity: v(t, x) with t a 0-d tensor and x shaped like ``x``.
        x: the state at grid[0], any shape.
        grid: (K,) times; descending integrates backward.
        method: solver name (see ``METHODS``).
        on_step: called with the running count of velocity evaluations.
        rtol, atol: error tolerances of the adaptive solver (ignored by fixed-step ones).

    Returns:
        The state at grid[-1], shaped like ``x``.
    """
    check_method(method)
    calls = [0]

    def func(t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if on_step is not None:
            on_step(calls[0])
        return velocity(t, state)

    options = {"rtol": rtol, "atol": atol} if METHODS[method][1] is None else {}
    return odeint(func, x, grid.to(x), method=METHODS[method][0], **options)[-1]
