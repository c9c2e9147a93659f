"""``medshift ingest``: DICOM/PNG/TIFF trees to a validated manifest and a quarantine list
(DVC stage ``ingest``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from medshift.commands.common import standalone
from medshift.config.base import load_section
from medshift.config.ingest import IngestConfig
from medshift.data.ingest import IngestFailure, ingest, summary
from medshift.data.validate import ValidationFailed, manifest_checks, run_checks
from medshift.io import write_csv, write_json, write_parquet

HELP = "DICOM/PNG/TIFF trees -> validated manifest + quarantine"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Paths (dvc.yaml gives them) and options."""
    p.add_argument("--params", type=Path, default=Path("params.yaml"))
    p.add_argument("--manifest", type=Path, default=Path("data/interim/manifest.parquet"))
    p.add_argument("--images", type=Path, default=Path("data/interim/images"))
    p.add_argument("--quarantine", type=Path, default=Path("data/interim/quarantine.csv"))
    p.add_argument("--validation", type=Path, default=Path("reports/validation/ingest.json"))
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Ingest every source, write the quarantine, validate, then write the manifest."""
    cfg = IngestConfig.from_params(load_section(args.params, "ingest"))
    manifest, quarantine = ingest(cfg, args.images, progress=not args.quiet)
    write_csv(args.quarantine, quarantine)
    counts = summary(manifest, quarantine)
    print(f"ingested {counts['ingested']} files, quarantined {counts['quarantined']}")
    print(f"  per class: {counts['per_class']}")
    print(f"  quarantine reasons: {counts['per_reason']}  (details in {args.quarantine})")
    if manifest.empty:
        raise IngestFailure(f"nothing usable was ingested from {[s.path for s in cfg.sources]};"
                            f" quarantine reasons: {counts['per_reason']}")
    try:
        report = run_checks(manifest_checks(manifest, cfg))
    except ValidationFailed as exc:
        write_json(args.validation, {**exc.report, "summary": counts})
        raise
    write_json(args.validation, {**report, "summary": counts})
    write_parquet(args.manifest, manifest)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return standalone("ingest", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
