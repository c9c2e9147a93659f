"""Shared bits of the training stage scripts: data loading, rank-0 tracking, CSV sinks."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from medshift.config.base import ConfigError
from medshift.data.datasets import ImageSet, load_split


def run_stage(name: str, main: Callable[[], Any]) -> None:
    """Run a stage's ``main``; a params error or a missing input prints one line naming
    it (``NAME: error: ...``) and exits with status 2 instead of a traceback; a non-zero
    int that ``main`` returns is the exit status."""
    try:
        code = main()
    except (ConfigError, FileNotFoundError) as exc:
        reason = f"missing input: {exc}" if isinstance(exc, FileNotFoundError) else exc
        print(f"{name}: error: {reason}", file=sys.stderr)
        raise SystemExit(2) from None
    if isinstance(code, int) and code:
        raise SystemExit(code)


def stage_parser(description: str) -> argparse.ArgumentParser:
    """Arguments every training stage takes (paths come from dvc.yaml)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--params", type=Path, default=Path("params.yaml"))
    p.add_argument("--manifest", type=Path, default=Path("data/interim/manifest.parquet"))
    p.add_argument("--splits", type=Path, default=Path("data/processed/splits.parquet"))
    p.add_argument("--images", type=Path, default=Path("data/interim/images"))
    return p


def load_sets(manifest: Path, splits: Path, images: Path, *names: str,
              whole_subjects: tuple[str, ...] = ()) -> list[ImageSet]:
    """The named splits; those in ``whole_subjects`` with every image of their subjects."""
    m, s = pd.read_parquet(manifest), pd.read_parquet(splits)
    return [load_split(m, s, images, name, name in whole_subjects) for name in names]


class CsvSink:
    """Append metric rows (step + values) to a CSV for `dvc plots`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict] = []

    def __call__(self, step: int, metrics: dict[str, float]) -> None:
        self.rows.append({"step": step, **{k: round(float(v), 6) for k, v in metrics.items()}})

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(dict.fromkeys(k for r in self.rows for k in r))
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)
        tmp.replace(self.path)


@contextmanager
def tracked(is_main: bool, run_name: str, params: dict, tags: dict):
    """An MLflow run on rank 0; None elsewhere (and when MEDSHIFT_TRACKING=off)."""
    import os

    if not is_main or os.environ.get("MEDSHIFT_TRACKING", "on") == "off":
        yield None
        return
    from pipeline.tracking import start_run

    with start_run(run_name, params, tags) as sink:
        yield sink
