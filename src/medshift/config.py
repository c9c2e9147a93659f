"""Frozen, validated configuration per params.yaml section."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A params.yaml section is missing, misspelt or out of range."""


def load_section(path: Path | str, section: str) -> dict[str, Any]:
    """Read one top-level section of a params file."""
    with open(path, encoding="utf-8") as fh:
        params = yaml.safe_load(fh) or {}
    if section not in params:
        raise ConfigError(f"{path}: no '{section}:' section")
    return params[section]


def _from_mapping(cls, values: dict[str, Any], section: str):
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(
            f"params.{section}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return cls(**converted)


@dataclass(frozen=True)
class SimulateConfig:
    """params.simulate: the embedded benchmark (SIMULATOR.md)."""

    subjects: int = 30
    views: tuple[str, ...] = ("PA", "CALDWELL", "TOWNE", "LAT_R", "LAT_L", "TRANSORB_OBL", "OBL45")
    classes: tuple[str, ...] = ("syn_low", "syn_high", "real_low", "real_normal", "real_exposure")
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
        from medshift.simulate.classes import PRESET_CLASSES
        from medshift.simulate.geometry import VIEW_TABLE

        checks = [
            (self.subjects >= 1, "subjects must be >= 1"),
            (16 <= self.size <= 2048 and self.size % 4 == 0,
             "size must be a multiple of 4 in 16..2048"),
            (self.workers >= 1, "workers must be >= 1"),
            (self.supersample in (1, 2, 3, 4), "supersample must be 1..4"),
            (self.preset == "xdigiskull", "only the 'xdigiskull' preset exists (no vessels)"),
            (self.synthetic_sop in ("xa", "sc"), "synthetic_sop must be 'xa' or 'sc'"),
            (set(self.views) <= set(VIEW_TABLE), f"views must be among {sorted(VIEW_TABLE)}"),
            (set(self.classes) <= set(PRESET_CLASSES),
             f"classes must be among {sorted(PRESET_CLASSES)}"),
            (len(set(self.classes)) == len(self.classes), "classes must be unique"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"params.simulate: {message}")

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> SimulateConfig:
        return _from_mapping(cls, values, "simulate")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @property
    def digest(self) -> str:
        """Short hash of what changes any one image: not which or how many subjects, views
        and classes are rendered, nor the worker count (keyed seeds make those independent)."""
        d = self.to_dict()
        for key in ("workers", "subjects", "first_subject", "views", "classes"):
            d.pop(key)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]
