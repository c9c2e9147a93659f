"""``medshift ingest``: DICOM/PNG/TIFF trees to a validated manifest and a quarantine list
(DVC stage ``ingest``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import yaml

from medshift.commands.common import standalone
from medshift.config.base import ConfigError, load_section
from medshift.config.ingest import IngestConfig
from medshift.data.stage import IngestOutputs, run_ingest_stage

HELP = "DICOM/PNG/TIFF trees -> validated manifest + quarantine"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Paths (dvc.yaml gives them) and options."""
    p.add_argument("--params", type=Path, default=Path("params.yaml"))
    p.add_argument("--manifest", type=Path, default=Path("data/interim/manifest.parquet"))
    p.add_argument("--images", type=Path, default=Path("data/interim/images"))
    p.add_argument("--quarantine", type=Path, default=Path("data/interim/quarantine.csv"))
    p.add_argument("--validation", type=Path, default=Path("reports/validation/ingest.json"))
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def ingest_config(params: Path) -> IngestConfig:
    """params.ingest as IngestConfig; every problem is one ConfigError line naming the cause."""
    try:
        return IngestConfig.from_params(load_section(params, "ingest"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{params}: invalid YAML{where}: "
                          f"{getattr(exc, 'problem', None) or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{params}: not UTF-8 text (byte {exc.start})") from None
    except FileNotFoundError:
        raise ConfigError(f"{params}: params file not found") from None
    except (TypeError, AttributeError) as exc:
        raise ConfigError(f"{params}: params.ingest is malformed ({exc})") from None


def run(args: argparse.Namespace) -> int:
    """Preflight, ingest every source into a staging folder, validate, then publish."""
    cfg = ingest_config(args.params)
    outputs = IngestOutputs(args.manifest, args.images, args.quarantine, args.validation)
    _, counts = run_ingest_stage(cfg, outputs, progress=not args.quiet)
    print(f"ingested {counts['ingested']} files, quarantined {counts['quarantined']}"
          + (f", excluded by params {counts['excluded_by_params']}"
             if counts["excluded_by_params"] else ""))
    print(f"  per class: {counts['per_class']}")
    print(f"  quarantine reasons: {counts['per_reason']}  (details in {args.quarantine})")
    if counts["notes"]:
        print(f"  {len(counts['notes'])} metadata values set to null or kept as raw text "
              f"(details under summary.notes in {args.validation})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return standalone("ingest", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
