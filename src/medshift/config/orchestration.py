"""params.orchestration: how the Prefect flows run each DVC stage (no stage reads it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medshift.config.base import check, from_mapping, to_dict


def _number(value: Any) -> bool:
    """An int or float, not a bool (YAML ``yes`` is a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class OrchestrationConfig:
    """params.orchestration (defaults equal params.yaml's).

    Attributes:
        retries: extra attempts of a stage whose command exits non-zero or times out.
        retry_delay_s: seconds between attempts.
        timeout_s: wall-clock limit of one attempt of one stage, seconds; the stage's whole
            process tree is killed when it passes.
        stderr_lines: lines of the failing command's stderr kept in the failure message.
        remote: DVC remote that ``push`` writes to; None: the default remote (.dvc/config).
    """

    retries: int = 2
    retry_delay_s: float = 60.0
    timeout_s: float = 14400.0
    stderr_lines: int = 20
    remote: str | None = None

    def __post_init__(self) -> None:
        check("orchestration", [
            (isinstance(self.retries, int) and not isinstance(self.retries, bool)
             and self.retries >= 0, "retries must be an integer >= 0"),
            (_number(self.retry_delay_s) and self.retry_delay_s >= 0,
             "retry_delay_s must be a number of seconds >= 0"),
            (_number(self.timeout_s) and self.timeout_s > 0,
             "timeout_s must be a number of seconds > 0"),
            (isinstance(self.stderr_lines, int) and not isinstance(self.stderr_lines, bool)
             and self.stderr_lines >= 1, "stderr_lines must be an integer >= 1"),
            (self.remote is None or (isinstance(self.remote, str) and self.remote != ""),
             "remote must be a DVC remote name or null (the default remote)")])

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> OrchestrationConfig:
        """From the params.orchestration mapping; raises ConfigError on unknown or bad keys."""
        return from_mapping(cls, values, "orchestration")

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return to_dict(self)
