"""params.velocity: the class-conditional latent flow-matching velocity model.

The architecture is ``params.velocity.model`` (a ``VelocityArchitecture``; the latent
channels and classes come from the autoencoder); the other keys are the training recipe
and the sample figure drawn while training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medshift.config.base import check, check_bf16, from_mapping, to_dict
from medshift.models.velocity import VelocityArchitecture

# keys that change what is logged, saved or drawn when, never the trained weights
NOT_IN_RUN_KEY = ("log_every", "checkpoint_every", "sample_every", "sample_tau", "sample_nfe",
                  "sample_method", "guidance")


@dataclass(frozen=True)
class VelocityConfig:
    """params.velocity (defaults equal params.yaml's)."""

    model: VelocityArchitecture = field(default_factory=VelocityArchitecture)
    steps: int = 800
    batch_size: int = 32
    lr: float = 5e-4
    warmup_steps: int = 100
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    p_uncond: float = 0.15
    sigma_min: float = 1e-4
    log_every: int = 25
    checkpoint_every: int = 250
    sample_every: int = 500
    sample_tau: float = 0.45
    sample_nfe: int = 16
    sample_method: str = "midpoint"
    guidance: float = 1.5
    bf16: str | bool = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        check_bf16(self.bf16, "velocity")
        check("velocity", [
            (0 <= self.p_uncond < 1, "p_uncond must be in [0, 1)"),
            (self.sample_method in ("euler", "midpoint", "heun", "rk4"),
             "sample_method must be euler|midpoint|heun|rk4"),
            (self.steps >= 1 and self.batch_size >= 1 and self.lr > 0,
             "steps and batch_size must be >= 1, lr > 0"),
            (self.model.base_channels >= 1 and len(self.model.channel_mults) >= 1,
             "model.base_channels must be >= 1 and model.channel_mults non-empty"),
        ])

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> VelocityConfig:
        """From the params.velocity mapping; raises ConfigError on unknown or bad keys."""
        values = dict(values)
        values["model"] = from_mapping(VelocityArchitecture, values.get("model") or {},
                                       "velocity.model")
        return from_mapping(cls, values, "velocity")

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as recorded with the exported model."""
        return to_dict(self)

    def run_fingerprint(self) -> str:
        """What identifies the trained weights: every key but ``NOT_IN_RUN_KEY``."""
        d = self.to_dict()
        for key in NOT_IN_RUN_KEY:
            d.pop(key)
        return repr(sorted(d.items()))
