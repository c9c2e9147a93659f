"""params.classifier: the X-ray domain/dose classifier that judges reconstructions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medshift.config.base import check, from_mapping, to_dict


@dataclass(frozen=True)
class ClassifierConfig:
    """params.classifier: trained on every image of the training subjects (an instrument,
    not part of MedShift; defaults equal params.yaml's)."""

    steps: int = 600
    batch_size: int = 32
    lr: float = 2e-3
    width: int = 32
    texture: bool = True
    texture_c: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        check("classifier", [(self.steps >= 1 and self.batch_size >= 1 and self.lr > 0,
                              "steps and batch_size must be >= 1, lr > 0"),
                             (self.width >= 2 and self.texture_c > 0,
                              "width must be >= 2 and texture_c > 0")])

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> ClassifierConfig:
        """From the params.classifier mapping; raises ConfigError on unknown or bad keys."""
        return from_mapping(cls, values, "classifier")

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as recorded with the exported model."""
        return to_dict(self)
