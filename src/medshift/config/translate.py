"""params.translate: which translations the `translate` stage makes, and how."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medshift.config.base import check, from_mapping, to_dict

SOLVERS = ("euler", "midpoint", "heun", "rk4", "dopri5")


@dataclass(frozen=True)
class TranslateConfig:
    """params.translate (defaults equal params.yaml's).

    ``tau``, ``solver``, ``nfe``, ``guidance`` and ``seed`` are MedShift's default settings:
    the stage's, ``medshift translate``'s (``TranslationRequest``'s defaults equal them) and
    the served model's (the register stage's signature defaults and gate). The stage
    translates every ordered pair of classes at each of ``taus`` (which hold ``tau``, so the
    evaluation states the default's numbers); pairs across domains (synthetic <-> real) also
    at each of ``cross_domain_taus``. SDEdit, the baseline, only on the cross-domain pairs
    at each of ``sdedit_taus``.
    """

    tau: float = 0.2
    taus: tuple[float, ...] = (0.2,)
    cross_domain_taus: tuple[float, ...] = (0.2, 0.3, 0.45, 0.6)
    methods: tuple[str, ...] = ("medshift", "sdedit")
    sdedit_taus: tuple[float, ...] = (0.2, 0.45)
    solver: str = "midpoint"
    nfe: int = 24
    guidance: float = 1.5
    batch_size: int = 64
    seed: int = 0
    bf16: bool | str = "auto"
    split: str = "test"

    def __post_init__(self) -> None:
        taus = (self.tau, *self.taus, *self.cross_domain_taus, *self.sdedit_taus)
        check("translate", [
            (bool(self.taus) and all(isinstance(t, int | float) and 0 < t <= 1 for t in taus),
             "tau and taus must be numbers in (0, 1]"),
            (self.tau in self.taus, "tau (the default) must be one of taus"),
            (set(self.sdedit_taus) <= {*self.taus, *self.cross_domain_taus},
             "sdedit_taus must be among taus and cross_domain_taus"),
            (self.guidance >= 0, "guidance must be >= 0"),
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
