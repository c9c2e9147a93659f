"""params.ingest: source trees, class rules and the working size."""

from __future__ import annotations

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

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> ClassRule:
        """From one params.ingest.classes entry; raises ConfigError on unknown keys."""
        values = dict(values)
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

    def __post_init__(self) -> None:
        if self.kind not in ("dicom", "folders", "csv"):
            raise ConfigError(f"params.ingest.sources: kind must be dicom|folders|csv, "
                              f"got {self.kind!r} for {self.path}")


@dataclass(frozen=True)
class IngestConfig:
    """params.ingest: source trees, class rules (ordered: label ids), working size."""

    sources: tuple[SourceConfig, ...]
    classes: tuple[ClassRule, ...]
    size: int = 128
    workers: int = 2

    def __post_init__(self) -> None:
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
