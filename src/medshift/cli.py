"""``medshift`` console entry point: one subcommand per pipeline capability."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _simulate(args: argparse.Namespace) -> int:
    from medshift.config import SimulateConfig, load_section
    from medshift.io import write_json
    from medshift.simulate.dataset import simulate_dataset
    from medshift.simulate.report import class_figure, nps_figure, summarise

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


def _ingest_config(params: Path):
    """params.ingest as IngestConfig; every problem is one ValueError line naming the cause."""
    import yaml

    from medshift.config import ConfigError, IngestConfig, load_section

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


def _ingest(args: argparse.Namespace) -> int:
    from medshift.data.stage import IngestOutputs, run_ingest_stage

    cfg = _ingest_config(args.params)
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


def _check_raw(args: argparse.Namespace) -> int:
    from medshift.data.raw_tier import check_raw_tier
    from medshift.io import write_json

    report = check_raw_tier(args.raw, _ingest_config(args.params).sources)
    write_json(args.out, report)
    for path in report["sources_outside_raw"]:
        print(f"note: source {path} is outside {args.raw}: dvc repro will not notice when "
              f"its files change")
    return 0


def _split(args: argparse.Namespace) -> int:
    import pandas as pd

    from medshift.config import IngestConfig, SplitConfig, load_section
    from medshift.data.split import make_splits, split_summary
    from medshift.data.validate import ValidationFailed, run_checks, split_checks
    from medshift.io import write_json, write_parquet

    classes = IngestConfig.from_params(load_section(args.params, "ingest")).class_ids
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


def _translate(args: argparse.Namespace) -> int:
    from medshift.translation.cli import run_translate

    return run_translate(args)


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

    ing = sub.add_parser("ingest", help="DICOM/PNG/TIFF trees -> validated manifest + quarantine")
    ing.add_argument("--params", type=Path, default=Path("params.yaml"))
    ing.add_argument("--manifest", type=Path, default=Path("data/interim/manifest.parquet"))
    ing.add_argument("--images", type=Path, default=Path("data/interim/images"))
    ing.add_argument("--quarantine", type=Path, default=Path("data/interim/quarantine.csv"))
    ing.add_argument("--validation", type=Path, default=Path("reports/validation/ingest.json"))
    ing.add_argument("--quiet", action="store_true", help="no progress bar")
    ing.set_defaults(func=_ingest)

    raw = sub.add_parser("check-raw", help="explain links in the raw tier that DVC cannot "
                         "hash; fingerprint linked folders")
    raw.add_argument("--raw", type=Path, default=Path("data/raw"))
    raw.add_argument("--params", type=Path, default=Path("params.yaml"))
    raw.add_argument("--out", type=Path, default=Path("reports/validation/raw_tier.json"))
    raw.set_defaults(func=_check_raw)

    spl = sub.add_parser("split", help="subject-grouped, dose-level train/val/test split")
    spl.add_argument("--params", type=Path, default=Path("params.yaml"))
    spl.add_argument("--manifest", type=Path, default=Path("data/interim/manifest.parquet"))
    spl.add_argument("--out", type=Path, default=Path("data/processed/splits.parquet"))
    spl.add_argument("--validation", type=Path, default=Path("reports/validation/split.json"))
    spl.add_argument("--summary", type=Path, default=Path("reports/split_summary.json"))
    spl.set_defaults(func=_split)

    from medshift.translation.cli import add_translate_parser

    add_translate_parser(sub).set_defaults(func=_translate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"medshift {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
