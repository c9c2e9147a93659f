"""DVC stage `reference`: per-class reference statistics for the evaluation, cached.

    python -m pipeline.reference [paths...]

Features of each class's reference images (params evaluate.reference_splits) in the
classifier's space, their MMD bandwidth and mean noise spectrum, and the grey-level
quantiles of each class's histogram-matching images (evaluate.histogram_split).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from medshift.config.base import load_section
from medshift.config.evaluate import EvaluateConfig
from medshift.config.ingest import IngestConfig
from medshift.data.datasets import load_split
from medshift.evaluation.reference import build_reference
from medshift.evaluation.scoring import judge_bf16
from medshift.evaluation.truth import load_truth
from medshift.models.classifier import load_classifier
from pipeline.common import run_stage, stage_parser


def parse() -> argparse.Namespace:
    p = stage_parser(__doc__.splitlines()[0])
    p.add_argument("--simulated", type=Path, default=Path("data/raw/simulated"))
    p.add_argument("--classifier", type=Path, default=Path("models/classifier"))
    p.add_argument("--out", type=Path, default=Path("data/processed/reference.npz"))
    return p.parse_args()


def main() -> None:
    args = parse()
    torch.set_num_threads(os.cpu_count() or 1)  # torch counted one core on a 2-vCPU machine
    cfg = EvaluateConfig.from_params(load_section(args.params, "evaluate"))
    ingest = IngestConfig.from_params(load_section(args.params, "ingest"))
    manifest, splits = pd.read_parquet(args.manifest), pd.read_parquet(args.splits)
    sets = [load_split(manifest, splits, args.images, s) for s in cfg.reference_splits]
    images = np.concatenate([s.images for s in sets])
    labels = np.concatenate([s.labels for s in sets])
    rows = pd.concat([s.rows for s in sets], ignore_index=True)
    fields = load_truth(rows, args.simulated, ingest.size).fields
    hist = load_split(manifest, splits, args.images, cfg.histogram_split)
    classifier, _ = load_classifier(args.classifier)
    stats = build_reference(classifier, ingest.class_ids, images, labels, fields,
                            hist.images, hist.labels, cfg.nps_roi, cfg.mmd_bandwidth,
                            judge_bf16(cfg))
    stats.save(args.out)
    print(f"reference: {len(images)} images of {'+'.join(cfg.reference_splits)}, "
          f"{len(hist)} histogram images of {cfg.histogram_split} -> {args.out}")


if __name__ == "__main__":
    run_stage("reference", main)
