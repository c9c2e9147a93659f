"""params.ingest: source trees, class rules and the working size."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from medshift.config.base import ConfigError, from_mapping


@dataclass(frozen=True)
class ClassRule:
    """One (domain, dose) class: its id, and how to recognise it from standard metadata.

    ``dicom`` maps DICOM keywords to case-insensitive regular expressions that must all
    match (multi-valued elements are joined with a backslash); ``folder`` is a regular
    expression searched in a file's path relative to its source root.
    """

    id: str
    domain: str
    dose: str
    dicom: tuple[tuple[str, str], ...] = ()
    folder: str | None = None

    def __post_init__(self) -> None:
        patterns = [(f"dicom.{key}", pattern) for key, pattern in self.dicom]
        patterns += [("folder", self.folder)] if self.folder is not None else []
        for where, pattern in patterns:
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise ConfigError(f"params.ingest.classes[{self.id}].{where}: {pattern!r} is "
                                  f"not a valid regular expression ({exc})") from None

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> ClassRule:
        """From one params.ingest.classes entry; raises ConfigError on unknown keys."""
        values = dict(values)
        if not isinstance(values.get("dicom") or {}, dict):
            raise ConfigError(f"params.ingest.classes[{values.get('id')}].dicom must map "
                              f"DICOM keywords to regular expressions")
        values["dicom"] = tuple((values.get("dicom") or {}).items())
        return from_mapping(cls, values, "ingest.classes")


@dataclass(frozen=True)
class SourceConfig:
    """An input tree: ``dicom`` (any file, decoded by pydicom), ``folders`` (PNG/TIFF whose
    relative path names the class) or ``csv`` (a mapping file: path, class, subject_id, view)."""

    path: str
    kind: str = "dicom"
    subject_pattern: str = r"(?P<subject>[^/]+)/(?P<view>[^/]+)\.[^./]+$"
    bone_bright: bool = True
    exclude: tuple[str, ...] = ()  # fnmatch patterns on the path relative to the source
    bits: int | None = None  # full scale of integer rasters; None: detected (raster.py)

    def __post_init__(self) -> None:
        if self.kind not in ("dicom", "folders", "csv"):
            raise ConfigError(f"params.ingest.sources: kind must be dicom|folders|csv, "
                              f"got {self.kind!r} for {self.path}")
        if self.bits is not None and not (isinstance(self.bits, int) and 1 <= self.bits <= 16):
            raise ConfigError(f"params.ingest.sources[{self.path}].bits must be 1..16 or null")
        try:
            re.compile(self.subject_pattern)
        except (re.error, TypeError) as exc:
            raise ConfigError(f"params.ingest.sources[{self.path}].subject_pattern: "
                              f"{self.subject_pattern!r} is not a valid regular expression "
                              f"({exc})") from None


@dataclass(frozen=True)
class IngestConfig:
    """params.ingest: source trees, class rules (ordered: label ids), working size."""

    sources: tuple[SourceConfig, ...]
    classes: tuple[ClassRule, ...]
    size: int = 128
    workers: int = 2
    max_pixels: int = 8192 * 8192  # larger declared images are refused before decoding

    def __post_init__(self) -> None:
        if self.max_pixels < 64 or self.workers < 1:
            raise ConfigError("params.ingest: max_pixels must be >= 64 and workers >= 1")
        ids = [c.id for c in self.classes]
        if not ids or len(set(ids)) != len(ids):
            raise ConfigError("params.ingest.classes: need at least one class, ids unique")
        if not self.sources:
            raise ConfigError("params.ingest.sources: need at least one source")
        if not 16 <= self.size <= 4096:
            raise ConfigError("params.ingest.size must be in 16..4096")

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> IngestConfig:
        """From the params.ingest mapping; raises ConfigError on unknown or bad keys."""
        values = dict(values)
        if not all(isinstance(s, dict) for s in values.get("sources") or ()):
            raise ConfigError("params.ingest.sources must be a list of mappings (path, kind)")
        if not all(isinstance(c, dict) for c in values.get("classes") or ()):
            raise ConfigError("params.ingest.classes must be a list of mappings (id, domain, "
                              "dose, dicom, folder)")
        values["sources"] = tuple(from_mapping(SourceConfig, s, "ingest.sources")
                                  for s in values.get("sources", ()))
        values["classes"] = tuple(ClassRule.from_params(c) for c in values.get("classes", ()))
        return from_mapping(cls, values, "ingest")

    @property
    def class_ids(self) -> tuple[str, ...]:
        """Class ids in label order."""
        return tuple(c.id for c in self.classes)


def class_ids(values: dict[str, Any]) -> tuple[str, ...]:
    """Class ids (label order) of a params.ingest mapping: what the training stages read of
    ``ingest`` (only ``ingest.classes``, so the source paths and size may be anything)."""
    return tuple(ClassRule.from_params(c).id for c in values.get("classes", ()))
