"""Classifier-free guidance as a velocity function; the solver knows nothing of classes."""

from __future__ import annotations

import torch

from medshift.flow.solvers import VelocityFn


def guided_velocity(model: torch.nn.Module, labels: torch.Tensor, scale: float,
                    null_label: int) -> VelocityFn:
    """v = v(x, t, null) + w (v(x, t, y) - v(x, t, null)); labels equal to null are plain."""
    null = torch.full_like(labels, null_label)

    def velocity(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        tb = t.expand(x.shape[0]).to(x)
        if scale == 1.0:
            return model(x, tb, labels)
        both = model(torch.cat([x, x]), torch.cat([tb, tb]), torch.cat([labels, null]))
        cond, uncond = both.chunk(2)
        return uncond + scale * (cond - uncond)

    return velocity
