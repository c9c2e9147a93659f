"""Benchmark: the domain classifier's variants, chosen on the validation split.

    python -m benchmarks.bench_classifier --variant texture:600:0 --variant plain:600:0
        [--test] [--threads 1]

A variant is ``kind:steps:seed[:width]``; kind ``plain`` is the CNN alone, ``texture`` the
CNN with the texture statistics in its embedding. Each is trained on every image of the
training subjects (as the stage does) and scored per class on the validation split; with
``--test`` also on the test split (report it once, for the variant chosen on validation).
Results are merged into benchmarks/results/classifier.json. Not a test: timings never gate CI.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from pipeline.common import load_sets

from medshift.config.base import load_section
from medshift.config.ingest import IngestConfig
from medshift.models.classifier import predict
from medshift.training.classifier import train_classifier

RESULTS = Path("benchmarks/results/classifier.json")


def per_class(pred: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> dict:
    return {name: round(float((pred[labels == k] == k).mean()), 4)
            for k, name in enumerate(classes)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", action="append", required=True)
    p.add_argument("--test", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", type=Path, default=Path("data"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    classes = IngestConfig.from_params(load_section("params.yaml", "ingest")).class_ids
    names = ("train", "val", "test") if args.test else ("train", "val")
    sets = load_sets(args.data / "interim/manifest.parquet",
                     args.data / "processed/splits.parquet", args.data / "interim/images",
                     *names, whole_subjects=("train",))
    train, scored = sets[0], dict(zip(names[1:], sets[1:], strict=True))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for variant in args.variant:
        kind, steps, seed, *width = variant.split(":")
        start = time.perf_counter()
        model = train_classifier(train.images, train.labels, len(classes), int(steps),
                                 int(seed), texture=kind == "texture",
                                 width=int(width[0]) if width else 32)
        entry = {"train_seconds": round(time.perf_counter() - start, 1),
                 "threads": args.threads}
        for name, split in scored.items():
            entry[name] = per_class(predict(model, split.images), split.labels, classes)
        results[variant] = {**results.get(variant, {}), **entry}
        print(variant, json.dumps(entry), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
