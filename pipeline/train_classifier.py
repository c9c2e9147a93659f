"""DVC stage `classifier`: the X-ray domain/dose classifier that judges reconstructions.

    python -m pipeline.train_classifier [paths...]

An instrument, not part of MedShift: it is trained once on every image of the training
subjects and only re-run when its data or params change, so retuning the autoencoder
never moves the judge. Writes its test-split accuracy and confusion matrix.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from medshift.config.base import load_section
from medshift.config.classifier import ClassifierConfig
from medshift.config.ingest import class_ids
from medshift.evaluation.classification import classifier_report
from medshift.io import write_json
from medshift.models.classifier import predict
from medshift.models.weights import save_export
from medshift.training.classifier import train_classifier
from pipeline.common import load_sets, run_stage, stage_parser, tracked
from pipeline.tracking import file_digest


def parse() -> argparse.Namespace:
    p = stage_parser(__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("models/classifier"))
    p.add_argument("--report", type=Path, default=Path("reports/classifier.json"))
    return p.parse_args()


def main() -> None:
    args = parse()
    cfg = ClassifierConfig.from_params(load_section(args.params, "classifier"))
    classes = class_ids(load_section(args.params, "ingest"))
    train, test = load_sets(args.manifest, args.splits, args.images, "train", "test",
                            whole_subjects=("train",))
    tags = {"stage": "classifier", "data_version": file_digest(args.manifest)}
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with tracked(True, "classifier", {"classifier": cfg.to_dict()}, tags) as run:
        start = time.perf_counter()
        model = train_classifier(train.images, train.labels, len(classes), cfg.steps,
                                 cfg.seed, cfg.batch_size, lr=cfg.lr, progress=True,
                                 texture=cfg.texture, width=cfg.width,
                                 texture_c=cfg.texture_c, device=device)
        train_seconds = time.perf_counter() - start
        report = {**classifier_report(predict(model, test.images), test.labels, classes),
                  "train_images": int(len(train)), "test_images": int(len(test))}
        save_export(args.out, {"classifier": model},
                    {"classes": list(classes), "width": model.width, "texture": model.texture,
                     "config": cfg.to_dict(),
                     "data_version": tags["data_version"], "train_images": len(train),
                     "note": "X-ray domain/dose classifier trained on the training split"})
        write_json(args.report, report)
        if run is not None:
            run.metrics(cfg.steps, {f"test_accuracy/{k}": v
                                    for k, v in report["accuracy"].items()})
            run.metrics(cfg.steps, {"train_seconds": train_seconds})
            run.dictionary(report, "classifier_report.json")
    # the time is printed, not reported: the report stays byte-identical across re-runs
    print(f"classifier: test accuracy {report['overall_accuracy']:.1%} "
          f"({report['accuracy']}); trained in {train_seconds:.0f} s")


if __name__ == "__main__":
    run_stage("train_classifier", main)
