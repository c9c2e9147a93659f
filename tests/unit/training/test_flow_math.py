"""Flow-matching math against closed form (STYLE.md practice 12)."""

from __future__ import annotations

import math

import pytest
import torch

from medshift.flow.guidance import guided_velocity
from medshift.flow.paths import sample_path
from medshift.flow.solvers import METHODS, solve, time_grid
from medshift.latents import LatentStats


def test_path_endpoints_and_velocity_is_time_derivative():
    x1, x0 = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    s = 1e-2
    assert torch.allclose(sample_path(x1, x0, torch.zeros(4), s).x_t, x0)
    assert torch.allclose(sample_path(x1, x0, torch.ones(4), s).x_t, x1 + s * x0)
    t, h = torch.full((4,), 0.3), 1e-3
    fd = (sample_path(x1, x0, t + h, s).x_t - sample_path(x1, x0, t - h, s).x_t) / (2 * h)
    assert torch.allclose(fd, sample_path(x1, x0, t, s).velocity, atol=1e-3)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_solver_endpoints_constant_and_linear_fields(method):
    x = torch.ones(2, 3)
    out = solve(lambda t, z: torch.full_like(z, 2.0), x, time_grid(0, 1, 8, method), method)
    assert torch.allclose(out, x + 2.0, atol=1e-6)
    tol = {"euler": 2e-2, "midpoint": 1e-3, "heun": 1e-3, "rk4": 1e-6, "dopri5": 1e-5}[method]
    out = solve(lambda t, z: -z, x, time_grid(0, 1, 64, method), method, rtol=1e-7, atol=1e-9)
    assert torch.allclose(out, x * math.exp(-1), atol=tol)


@pytest.mark.parametrize("method", ["midpoint", "rk4"])
def test_invert_then_generate_recovers_the_input(method):
    field = lambda t, z: torch.sin(3 * t) * z + 0.5  # noqa: E731
    x = torch.randn(3, 4)
    down = solve(field, x, time_grid(1.0, 0.3, 64, method), method)
    back = solve(field, down, time_grid(0.3, 1.0, 64, method), method)
    assert torch.allclose(back, x, atol=1e-4)


def test_time_grid_uses_the_evaluation_budget_and_rejects_unknown():
    assert len(time_grid(1, 0.45, 16, "midpoint")) == 9
    assert len(time_grid(0, 1, 16, "rk4")) == 5
    assert time_grid(1, 0.5, 4, "euler")[1] < 1
    with pytest.raises(ValueError, match="unknown solver"):
        time_grid(0, 1, 4, "rk45")
    assert time_grid(1, 0.45, 99, "dopri5").tolist() == pytest.approx([1, 0.45])


class _Affine(torch.nn.Module):
    """v(x, t, y) = x + y, to check the guidance combination exactly."""

    def forward(self, x, t, y):
        return x + y.float().view(-1, 1)


def test_guided_velocity_combines_conditional_and_null():
    x, labels = torch.zeros(2, 3), torch.tensor([1, 2])
    plain = guided_velocity(_Affine(), labels, 1.0, null_label=5)(torch.tensor(0.5), x)
    assert torch.allclose(plain, torch.tensor([[1.0] * 3, [2.0] * 3]))
    guided = guided_velocity(_Affine(), labels, 2.0, null_label=5)(torch.tensor(0.5), x)
    assert torch.allclose(guided, 5 + 2 * (labels.float().view(-1, 1) - 5) + x)


def test_latent_stats_round_trip():
    z = torch.randn(10, 3, 4, 4) * torch.tensor([1.0, 5.0, 0.1]).view(1, 3, 1, 1) + 2
    stats = LatentStats.fit(z)
    n = stats.normalise(z)
    assert torch.allclose(n.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(n.std((0, 2, 3)), torch.ones(3), atol=1e-4)
    assert torch.allclose(stats.denormalise(n), z, atol=1e-5)
