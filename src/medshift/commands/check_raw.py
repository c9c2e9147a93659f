"""``medshift check-raw``: explain links in the raw tier that DVC cannot hash, and
fingerprint linked folders (DVC stage ``check_raw``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from medshift.commands.common import standalone
from medshift.commands.ingest import ingest_config
from medshift.data.raw_tier import check_raw_tier
from medshift.io import write_json

HELP = "explain links in the raw tier that DVC cannot hash; fingerprint linked folders"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Paths (dvc.yaml gives them)."""
    p.add_argument("--raw", type=Path, default=Path("data/raw"))
    p.add_argument("--params", type=Path, default=Path("params.yaml"))
    p.add_argument("--out", type=Path, default=Path("reports/validation/raw_tier.json"))


def run(args: argparse.Namespace) -> int:
    """Write the raw tier's report; a dangling link or loop fails with one line."""
    report = check_raw_tier(args.raw, ingest_config(args.params).sources)
    write_json(args.out, report)
    for path in report["sources_outside_raw"]:
        print(f"note: source {path} is outside {args.raw}: dvc repro will not notice when "
              f"its files change")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return standalone("check-raw", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
