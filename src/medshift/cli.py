"""``medshift`` console entry point: one subcommand per pipeline capability."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _simulate(args: argparse.Namespace) -> int:
    from medshift.config import SimulateConfig, load_section
    from medshift.simulate.dataset import simulate_dataset
    from medshift.simulate.report import class_figure, nps_figure, summarise, write_json

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medshift", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="render the X-DigiSkull-like benchmark as DICOM")
    sim.add_argument("--params", type=Path, default=Path("params.yaml"))
    sim.add_argument("--out", type=Path, default=Path("data/raw/simulated"))
    sim.add_argument("--report", type=Path, default=Path("reports/simulate.json"))
    sim.add_argument("--figure", type=Path,
                     default=Path("reports/figures/simulated_classes.png"))
    sim.add_argument("--subjects", type=int, default=None, help="override params subjects")
    sim.add_argument("--dry-run", action="store_true", help="print the resolved config")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(func=_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"medshift {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
