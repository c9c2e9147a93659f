"""params.autoencoder_report: how the trained autoencoder's test-split report is drawn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medshift.config.base import check, from_mapping, to_dict


@dataclass(frozen=True)
class AutoencoderReportConfig:
    """params.autoencoder_report (defaults equal params.yaml's).

    The report is an expectation over ``noise_draws`` decoder noise draws, seeded
    ``seed``, ``seed + 1``, ...
    """

    noise_draws: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        check("autoencoder_report", [(self.noise_draws >= 1, "noise_draws must be >= 1")])

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> AutoencoderReportConfig:
        """From the params.autoencoder_report mapping; raises ConfigError on bad keys."""
        return from_mapping(cls, values, "autoencoder_report")

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return to_dict(self)

    @property
    def seeds(self) -> range:
        """The decoder noise seeds, one per draw."""
        return range(self.seed, self.seed + self.noise_draws)
