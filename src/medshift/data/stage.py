"""The ingest stage: check configuration and outputs before any file is read, ingest into a
staging folder, validate, then publish; a failed run leaves no partial outputs.

Order: ``preflight`` (sources exist and can be listed, mapping files parse, every output
folder can be written) -> ``collect`` into ``.{images}.staging-{pid}`` beside the images
folder -> quarantine written (it explains any failure) -> stop if nothing is usable ->
great-expectations suite -> the staging folder replaces the images folder, then the
manifest and the validation report are written. On any failure the staging folder is
removed and the previous images folder and manifest are left as they were.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from medshift.config.ingest import IngestConfig
from medshift.data.discover import read_mapping
from medshift.data.ingest import IngestFailure, IngestResult, collect, summary
from medshift.data.validate import ValidationFailed, manifest_checks, run_checks
from medshift.io import write_csv, write_json, write_parquet


class PreflightError(ValueError):
    """A source or an output folder is unusable; nothing has been read or written."""


@dataclass(frozen=True)
class IngestOutputs:
    """Where the stage writes (dvc.yaml names them)."""

    manifest: Path
    images: Path
    quarantine: Path
    validation: Path


def preflight(cfg: IngestConfig, outputs: IngestOutputs) -> None:
    """Check every source and output before any input file is read.

    Raises:
        PreflightError: one line naming the path and the cause.
    """
    for source in cfg.sources:
        path = Path(source.path)
        if source.kind == "csv":
            if not path.is_file():
                raise PreflightError(f"source {path}: mapping file not found")
            try:
                read_mapping(path)
            except (ValueError, OSError) as exc:
                raise PreflightError(f"source {exc}") from None
        elif not path.is_dir():
            raise PreflightError(f"source {path}: folder not found"
                                 + (" (it is a file)" if path.exists() else ""))
        elif not os.access(path, os.R_OK | os.X_OK):
            raise PreflightError(f"source {path}: folder cannot be listed (permissions)")
    if outputs.images.exists() and not outputs.images.is_dir():
        raise PreflightError(f"images folder {outputs.images} exists and is not a folder")
    folders = {outputs.manifest.parent, outputs.quarantine.parent, outputs.validation.parent,
               outputs.images.parent}
    if outputs.images.is_dir():
        folders.add(outputs.images)
    for folder in sorted(folders):
        probe_writable(folder)


def probe_writable(folder: Path) -> None:
    """Create ``folder`` if needed and write and remove a file in it.

    Raises:
        PreflightError: the folder cannot be created or written.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except OSError as exc:
        raise PreflightError(f"output folder {folder} cannot be written: "
                             f"{exc.strerror or exc}") from None


def run_ingest_stage(cfg: IngestConfig, outputs: IngestOutputs, progress: bool = True
                     ) -> tuple[IngestResult, dict]:
    """Preflight, ingest, validate and publish; returns the result and its summary.

    Raises:
        PreflightError: before anything is read.
        IngestFailure: nothing usable (the quarantine and report say why).
        ValidationFailed: the manifest suite failed (report written, nothing published).
        OutputError: an image could not be written during the run.
    """
    preflight(cfg, outputs)
    staging = outputs.images.with_name(f".{outputs.images.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        result = collect(cfg, staging, progress)
        counts = summary(result)
        write_csv(outputs.quarantine, result.quarantine)
        if result.manifest.empty:
            write_json(outputs.validation, {"success": False, "summary": counts,
                                            "failures": ["nothing usable was ingested"]})
            raise IngestFailure(f"nothing usable was ingested from "
                                f"{[s.path for s in cfg.sources]}; quarantine reasons: "
                                f"{counts['per_reason']} (details in {outputs.quarantine})")
        try:
            report = run_checks(manifest_checks(result.manifest, cfg))
        except ValidationFailed as exc:
            write_json(outputs.validation, {**exc.report, "summary": counts})
            raise
        _publish(staging, outputs.images)
        write_parquet(outputs.manifest, result.manifest)
        write_json(outputs.validation, {**report, "summary": counts})
        return result, counts
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: Path, images: Path) -> None:
    """Swap the staging folder in; the old images folder goes only once the new one is in."""
    old = images.with_name(f".{images.name}.old-{os.getpid()}")
    if images.exists():
        os.replace(images, old)
    os.replace(staging, images)
    shutil.rmtree(old, ignore_errors=True)
