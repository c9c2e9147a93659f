"""params.translate: which translations the `translate` stage makes, and how."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medshift.config.base import check, from_mapping, to_dict

SOLVERS = ("euler", "midpoint", "heun", "rk4", "dopri5")


@dataclass(frozen=True)
class TranslateConfig:
    """params.translate (defaults equal params.yaml's).

    Every ordered pair of classes at each of ``taus``; pairs across domains (synthetic <->
    real) also at each of ``cross_domain_taus``; every method at the same (pair, tau) set.
    """

    taus: tuple[float, ...] = (0.45,)
    cross_domain_taus: tuple[float, ...] = (0.3, 0.45, 0.6)
    methods: tuple[str, ...] = ("medshift", "sdedit")
    solver: str = "midpoint"
    nfe: int = 12
    guidance: float = 1.0
    batch_size: int = 64
    seed: int = 0
    bf16: bool | str = "auto"
    split: str = "test"

    def __post_init__(self) -> None:
        taus = (*self.taus, *self.cross_domain_taus)
        check("translate", [
            (bool(taus) and all(isinstance(t, int | float) and 0 < t <= 1 for t in taus),
             "taus must be numbers in (0, 1]"),
            (bool(self.methods) and set(self.methods) <= {"medshift", "sdedit"},
             "methods must be among medshift, sdedit"),
            (self.solver in SOLVERS, f"solver must be one of {', '.join(SOLVERS)}"),
            (self.nfe >= 1 and self.batch_size >= 1, "nfe and batch_size must be >= 1"),
            (self.split in ("train", "val", "test"), "split must be train, val or test"),
            (self.bf16 in (True, False, "auto"), "bf16 must be true, false or auto")])

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> TranslateConfig:
        """From the params.translate mapping; raises ConfigError on unknown or bad keys."""
        return from_mapping(cls, values, "translate")

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return to_dict(self)
