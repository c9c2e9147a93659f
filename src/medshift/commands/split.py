"""``medshift split``: subject-grouped, dose-level train/val/test split (DVC stage
``split``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from medshift.commands.common import standalone
from medshift.config.base import load_section
from medshift.config.ingest import class_ids
from medshift.config.split import SplitConfig
from medshift.data.split import make_splits, split_summary
from medshift.data.validate import ValidationFailed, run_checks, split_checks
from medshift.io import write_json, write_parquet

HELP = "subject-grouped, dose-level train/val/test split"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Paths (dvc.yaml gives them)."""
    p.add_argument("--params", type=Path, default=Path("params.yaml"))
    p.add_argument("--manifest", type=Path, default=Path("data/interim/manifest.parquet"))
    p.add_argument("--out", type=Path, default=Path("data/processed/splits.parquet"))
    p.add_argument("--validation", type=Path, default=Path("reports/validation/split.json"))
    p.add_argument("--summary", type=Path, default=Path("reports/split_summary.json"))


def run(args: argparse.Namespace) -> int:
    """Split, validate, then write the splits and their summary."""
    classes = class_ids(load_section(args.params, "ingest"))
    cfg = SplitConfig.from_params(load_section(args.params, "split"))
    manifest = pd.read_parquet(args.manifest)
    splits = make_splits(manifest, cfg, classes)
    try:
        report = run_checks(split_checks(splits, manifest, cfg, classes))
    except ValidationFailed as exc:
        write_json(args.validation, exc.report)
        raise
    write_json(args.validation, report)
    summary = split_summary(splits, manifest)
    write_json(args.summary, summary)
    write_parquet(args.out, splits)
    print(f"split {summary['total_images']} images: subjects {summary['subjects']}, "
          f"{summary['excluded_by_unpaired_training']} left out by unpaired training")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return standalone("split", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
