"""``medshift simulate``: render the X-DigiSkull-like benchmark as DICOM (DVC stage
``simulate``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from medshift.commands.common import standalone
from medshift.config.base import load_section
from medshift.config.simulate import SimulateConfig
from medshift.io import write_json
from medshift.simulate.dataset import simulate_dataset
from medshift.simulate.report import class_figure, nps_figure, summarise

HELP = "render the X-DigiSkull-like benchmark as DICOM"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Paths (dvc.yaml gives them) and options."""
    p.add_argument("--params", type=Path, default=Path("params.yaml"))
    p.add_argument("--out", type=Path, default=Path("data/raw/simulated"))
    p.add_argument("--report", type=Path, default=Path("reports/simulate.json"))
    p.add_argument("--figure", type=Path, default=Path("reports/figures/simulated_classes.png"))
    p.add_argument("--subjects", type=int, default=None, help="override params subjects")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Simulate, summarise (signature classifier) and draw the class and NPS figures."""
    overrides = {} if args.subjects is None else {"subjects": args.subjects}
    cfg = SimulateConfig.from_params({**load_section(args.params, "simulate"), **overrides})
    if args.dry_run:
        print(cfg.to_dict())
        return 0
    results = simulate_dataset(cfg, args.out, progress=not args.quiet)
    summary = summarise([r["record"] for r in results])
    write_json(args.report, summary)
    view = "PA" if "PA" in cfg.views else cfg.views[0]
    class_figure(args.out, cfg.first_subject, view, list(cfg.classes), args.figure)
    nps_figure(results, args.figure.with_name("simulated_nps.png"))
    acc = summary["linear_classifier_accuracy"]["overall"]
    print(f"simulated {summary['images']} images into {args.out}; "
          f"signature classifier accuracy {acc:.1%}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return standalone("simulate", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
