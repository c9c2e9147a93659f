"""params.simulate: the embedded X-DigiSkull-like benchmark (SIMULATOR.md)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from medshift.acquisition import BENCHMARK_CLASSES, VIEW_TABLE
from medshift.config.base import check, from_mapping, to_dict


@dataclass(frozen=True)
class SimulateConfig:
    """params.simulate: what to render and how (defaults equal params.yaml's)."""

    subjects: int = 60
    views: tuple[str, ...] = ("PA", "CALDWELL", "TOWNE", "LAT_R", "LAT_L", "TRANSORB_OBL", "OBL45")
    classes: tuple[str, ...] = BENCHMARK_CLASSES
    size: int = 256
    seed: int = 20250829
    workers: int = 2
    preset: str = "xdigiskull"
    supersample: int = 2
    detector_side_cm: float = 36.0
    noise_reference_mm: float = 0.365
    synthetic_sop: str = "xa"
    first_subject: int = 0

    def __post_init__(self) -> None:
        check("simulate", [
            (self.subjects >= 1, "subjects must be >= 1"),
            (16 <= self.size <= 2048 and self.size % 4 == 0,
             "size must be a multiple of 4 in 16..2048"),
            (self.workers >= 1, "workers must be >= 1"),
            (self.supersample in (1, 2, 3, 4), "supersample must be 1..4"),
            (self.preset == "xdigiskull", "only the 'xdigiskull' preset exists (no vessels)"),
            (self.synthetic_sop in ("xa", "sc"), "synthetic_sop must be 'xa' or 'sc'"),
            (set(self.views) <= set(VIEW_TABLE), f"views must be among {sorted(VIEW_TABLE)}"),
            (set(self.classes) <= set(BENCHMARK_CLASSES),
             f"classes must be among {sorted(BENCHMARK_CLASSES)}"),
            (len(set(self.classes)) == len(self.classes), "classes must be unique"),
        ])

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> SimulateConfig:
        """From the params.simulate mapping; raises ConfigError on unknown or bad keys."""
        return from_mapping(cls, values, "simulate")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists for tuples), as written to the dataset card."""
        return to_dict(self)

    @property
    def digest(self) -> str:
        """Short hash of what changes any one image: not which or how many subjects, views
        and classes are rendered, nor the worker count (keyed seeds make those independent)."""
        d = self.to_dict()
        for key in ("workers", "subjects", "first_subject", "views", "classes"):
            d.pop(key)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]
