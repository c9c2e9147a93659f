"""DVC stage `autoencoder_report`: the trained autoencoder's test-split report and figure,
reconstructions judged by the `classifier` stage's model.

    python -m pipeline.autoencoder_report [paths...]

Only this stage re-runs when the judge is retrained or the report's params change.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from medshift.config.autoencoder_report import AutoencoderReportConfig
from medshift.config.base import load_section
from medshift.evaluation.autoencoder_report import autoencoder_figure, autoencoder_report
from medshift.io import write_json
from medshift.models.autoencoder import reconstruct_draws
from medshift.models.card import load_autoencoder
from medshift.models.classifier import DomainClassifier, load_classifier, predict
from pipeline.common import load_sets, run_stage, stage_parser, tracked
from pipeline.tracking import file_digest


def parse() -> argparse.Namespace:
    p = stage_parser(__doc__.splitlines()[0])
    p.add_argument("--autoencoder", type=Path, default=Path("models/autoencoder"))
    p.add_argument("--classifier", type=Path, default=Path("models/classifier"),
                   help="the judge exported by the classifier stage")
    p.add_argument("--report", type=Path, default=Path("reports/autoencoder.json"))
    p.add_argument("--figure", type=Path, default=Path("reports/figures/autoencoder.png"))
    return p.parse_args()


def main() -> None:
    args = parse()
    cfg = AutoencoderReportConfig.from_params(load_section(args.params, "autoencoder_report"))
    model, card = load_autoencoder(args.autoencoder)
    classes = card.classes
    judge, judge_meta = load_classifier(args.classifier)
    if tuple(judge_meta["classes"]) != classes:
        raise ValueError(f"{args.classifier}: classifier classes {judge_meta['classes']} "
                         f"differ from the autoencoder's {list(classes)} ({args.autoencoder})")
    (test,) = load_sets(args.manifest, args.splits, args.images, "test")
    tags = {"stage": "autoencoder_report", "data_version": file_digest(args.manifest)}
    with tracked(True, "autoencoder_report", {"autoencoder_report": cfg.to_dict()},
                 tags) as run:
        recon = reconstruct_draws(model, test.images, cfg.seeds)
        report = evaluate(recon, test, judge, classes)
        report["classifier_train_images"] = judge_meta["train_images"]
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        autoencoder_figure(test.images, recon[0], test.labels, classes, args.figure)
        write_json(args.report, report)
        if run is not None:
            for name, values in report["per_class"].items():
                run.metrics(0, {k: v for k, v in values.items() if isinstance(v, float)},
                            f"ae_test/{name}/")
            run.dictionary(report, "autoencoder_report.json")
            run.artifact(args.figure, "figures")
    print(f"autoencoder: checks {report['checks']}")


def evaluate(recon: np.ndarray, test, judge: DomainClassifier, classes: tuple[str, ...]
             ) -> dict:
    """Test-split report of reconstructions ``recon`` (draws, N, 1, H, W) of ``test``,
    judged by ``judge``."""
    report = autoencoder_report(test.images, recon, test.labels, classes,
                                predict(judge, test.images),
                                np.stack([predict(judge, draw) for draw in recon]))
    report["test_images"] = int(len(test))
    return report


if __name__ == "__main__":
    run_stage("autoencoder_report", main)
