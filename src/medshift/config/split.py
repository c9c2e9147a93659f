"""params.split: subject-grouped train/val/test fractions and unpaired training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medshift.config.base import ConfigError, from_mapping


@dataclass(frozen=True)
class SplitConfig:
    """params.split (defaults equal params.yaml's)."""

    fractions: tuple[tuple[str, float], ...] = (("train", 0.86), ("val", 0.07), ("test", 0.07))
    seed: int = 0
    unpaired_train: bool = True
    tolerance: float = 0.1

    def __post_init__(self) -> None:
        names = [n for n, _ in self.fractions]
        if names != ["train", "val", "test"]:
            raise ConfigError("params.split.fractions must list train, val, test in order")
        if abs(sum(f for _, f in self.fractions) - 1) > 1e-6 or min(
                f for _, f in self.fractions) <= 0:
            raise ConfigError("params.split.fractions must be positive and sum to 1")

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> SplitConfig:
        """From the params.split mapping; raises ConfigError on unknown or bad keys."""
        values = dict(values)
        if "fractions" in values:
            values["fractions"] = tuple(values["fractions"].items())
        return from_mapping(cls, values, "split")
