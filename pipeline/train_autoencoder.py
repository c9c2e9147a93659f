"""DVC stage `autoencoder`: train, evaluate on the test split, export with LatentStats.

    python -m pipeline.train_autoencoder [paths...]          # or under torchrun -m

Reconstructions are judged by the `classifier` stage's model (never trained here).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from medshift.config import AutoencoderConfig, IngestConfig, load_section
from medshift.evaluation.autoencoder_report import autoencoder_figure, autoencoder_report
from medshift.io import write_json
from medshift.latents import LatentStats
from medshift.models.card import ModelCard
from medshift.models.classifier import DomainClassifier
from medshift.models.export import load_classifier, save_model
from medshift.training.autoencoder import (
    encode,
    reconstruct_draws,
    spec_from,
    train_autoencoder,
)
from medshift.training.classifier import predict, train_classifier
from medshift.training.distributed import setup, teardown
from pipeline.common import CsvSink, load_sets, stage_parser, tracked
from pipeline.tracking import file_digest


def parse() -> argparse.Namespace:
    p = stage_parser(__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("models/autoencoder"))
    p.add_argument("--classifier", type=Path, default=Path("models/classifier"),
                   help="the judge exported by the classifier stage (an input)")
    p.add_argument("--checkpoints", type=Path, default=Path("models/checkpoints/autoencoder"))
    p.add_argument("--report", type=Path, default=Path("reports/autoencoder.json"))
    p.add_argument("--loss-csv", type=Path, default=Path("reports/plots/autoencoder_loss.csv"))
    p.add_argument("--figure", type=Path, default=Path("reports/figures/autoencoder.png"))
    return p.parse_args()


def main() -> None:
    args = parse()
    info = setup()
    cfg = AutoencoderConfig.from_params(load_section(args.params, "autoencoder"))
    classes = IngestConfig.from_params(load_section(args.params, "ingest")).class_ids
    judge, judge_meta = load_classifier(args.classifier)
    if tuple(judge_meta["classes"]) != classes:
        raise ValueError(f"{args.classifier}: classifier classes {judge_meta['classes']} "
                         f"differ from params.ingest.classes {list(classes)}")
    whole = ("train",) if cfg.whole_training_subjects else ()
    train, test = load_sets(args.manifest, args.splits, args.images, "train", "test",
                            whole_subjects=whole)
    csv_sink = CsvSink(args.loss_csv)
    tags = {"stage": "autoencoder", "data_version": file_digest(args.manifest)}
    with tracked(info.is_main, "autoencoder", {"autoencoder": cfg.__dict__}, tags) as run:
        def on_step(step: int, metrics: dict[str, float]) -> None:
            csv_sink(step, metrics)
            if run is not None:
                run.metrics(step, metrics, "ae/")

        def on_checkpoint(step: int, path: Path) -> None:
            if run is not None:
                run.artifact(path, "checkpoints/autoencoder")

        # the perceptual feature network is its own model (crops, another seed): the judge
        # that scores reconstructions below never takes part in training
        feature_net = (train_classifier(train.images, train.labels, len(classes),
                                        cfg.feature_net_steps, cfg.seed + 1, crop=cfg.crop,
                                        progress=True)
                       if cfg.perceptual_weight > 0 else None)
        model = train_autoencoder(cfg, train.images, info, args.checkpoints, on_step,
                                  on_checkpoint, feature_net)
        if info.is_main:
            recon = reconstruct_draws(model, test.images,
                                      range(cfg.seed, cfg.seed + cfg.eval_noise_draws))
            report = evaluate(recon, test, judge, classes)
            report["classifier_train_images"] = judge_meta["train_images"]
            args.figure.parent.mkdir(parents=True, exist_ok=True)
            autoencoder_figure(test.images, recon[0], test.labels, classes, args.figure)
            stats = LatentStats.fit(encode(model, train.images))
            card = ModelCard(classes, spec_from(cfg), stats, int(train.images.shape[-1]),
                             data_version=tags["data_version"],
                             training={"autoencoder": cfg.__dict__})
            save_model(args.out, {"autoencoder": model}, card)
            write_json(args.report, report)
            csv_sink.write()
            if run is not None:
                for name, values in report["per_class"].items():
                    run.metrics(cfg.steps, {k: v for k, v in values.items()
                                            if isinstance(v, float)}, f"ae_test/{name}/")
                run.dictionary(report, "autoencoder_report.json")
                run.artifact(args.figure, "figures")
            print(f"autoencoder: checks {report['checks']}")
    teardown(info)


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
    main()
