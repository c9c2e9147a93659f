"""DVC stage `evaluate`: every method scored on the test split, Table 1 and the report.

    python -m pipeline.evaluate [paths...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from medshift.config.base import load_section
from medshift.config.evaluate import EvaluateConfig
from medshift.config.ingest import IngestConfig
from medshift.config.translate import TranslateConfig
from medshift.data.datasets import load_split
from medshift.evaluation.benchmark import TestImages
from medshift.evaluation.evaluate import evaluate
from medshift.evaluation.inputs import TranslationsError, load_translations
from medshift.evaluation.reference import ReferenceStats
from medshift.evaluation.report import ReportPaths, write_all
from medshift.evaluation.truth import load_truth
from medshift.models.autoencoder import reconstruct
from medshift.models.card import load_autoencoder
from medshift.models.classifier import load_classifier
from pipeline.common import run_stage, stage_parser


def parse() -> argparse.Namespace:
    p = stage_parser(__doc__.splitlines()[0])
    p.add_argument("--simulated", type=Path, default=Path("data/raw/simulated"))
    p.add_argument("--translations", type=Path, default=Path("data/processed/translations"))
    p.add_argument("--reference", type=Path, default=Path("data/processed/reference.npz"))
    p.add_argument("--classifier", type=Path, default=Path("models/classifier"))
    p.add_argument("--model", type=Path, default=Path("models/medshift"))
    p.add_argument("--metrics", type=Path, default=Path("reports/metrics.json"))
    p.add_argument("--plots", type=Path, default=Path("reports/plots"))
    p.add_argument("--figures", type=Path, default=Path("reports/figures/evaluation"))
    p.add_argument("--table", type=Path, default=Path("reports/evaluation.csv"))
    p.add_argument("--report", type=Path, default=Path("reports/report.md"))
    return p.parse_args()


def load_test(args: argparse.Namespace, size: int, seed: int) -> TestImages:
    """The test split with its truth and the autoencoder ceiling's reconstructions."""
    test = load_split(pd.read_parquet(args.manifest), pd.read_parquet(args.splits),
                      args.images, "test")
    truth = load_truth(test.rows, args.simulated, size)
    autoencoder, _ = load_autoencoder(args.model)
    start = time.perf_counter()
    recon = reconstruct(autoencoder, test.images, seed=seed)
    per_image = (time.perf_counter() - start) / len(test)
    return TestImages(test.rows, test.images, truth.fields, truth.clean, recon, per_image)


def main() -> None:
    args = parse()
    torch.set_num_threads(os.cpu_count() or 1)  # torch counted one core on a 2-vCPU machine
    start = time.perf_counter()
    cfg = EvaluateConfig.from_params(load_section(args.params, "evaluate"))
    ingest = IngestConfig.from_params(load_section(args.params, "ingest"))
    default_tau = TranslateConfig.from_params(load_section(args.params, "translate")).tau
    try:
        translations = load_translations(args.translations, ingest.size)
    except TranslationsError as exc:
        sys.exit(f"evaluate: {exc}")
    test = load_test(args, ingest.size, cfg.seed)
    classifier, _ = load_classifier(args.classifier)
    loaded = time.perf_counter()
    ev = evaluate(test, translations, ReferenceStats.load(args.reference), classifier,
                  ingest.class_ids, {c.id: c.domain for c in ingest.classes}, cfg, default_tau)
    seconds = {"load": loaded - start, **ev.seconds}
    context = {"headline_tau": cfg.headline_tau, "test_images": len(test.rows),
               "test_subjects": int(test.rows["subject_id"].nunique()),
               "reference_splits": cfg.reference_splits, "prdc_k": cfg.prdc_k,
               "translations": len(translations.index), "seconds": seconds,
               "config": {k: list(v) if isinstance(v, tuple) else v
                          for k, v in cfg.__dict__.items()}}
    write_all(ev, ReportPaths(args.metrics, args.plots, args.figures, args.report, args.table),
              ingest.class_ids, cfg.headline_groups, context)
    seconds["total"] = time.perf_counter() - start
    print(f"evaluate: {len(translations.index)} translations in {seconds['total']:.1f} s; "
          f"all syn->real pairs pass: {ev.checks['all_pairs_pass']}, trade-off monotone: "
          f"{ev.checks['tradeoff_monotone']} -> {args.report}")


if __name__ == "__main__":
    run_stage("evaluate", main)
