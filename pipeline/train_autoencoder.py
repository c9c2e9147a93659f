"""DVC stage `autoencoder`: train the texture-preserving autoencoder, export it with the
LatentStats of the training split.

    python -m pipeline.train_autoencoder [paths...]          # or under torchrun -m

Its test-split report is the `autoencoder_report` stage (pipeline/autoencoder_report.py),
so retraining the judge there never retrains this model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from medshift.config.autoencoder import AutoencoderConfig
from medshift.config.base import load_section
from medshift.config.ingest import class_ids
from medshift.latents import LatentStats
from medshift.models.autoencoder import encode
from medshift.models.card import ModelCard, save_model
from medshift.training.autoencoder import train_autoencoder
from medshift.training.classifier import train_classifier
from medshift.training.distributed import setup, teardown
from pipeline.common import CsvSink, load_sets, run_stage, stage_parser, tracked
from pipeline.launch import relaunch_under_torchrun
from pipeline.tracking import file_digest


def parse() -> argparse.Namespace:
    p = stage_parser(__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("models/autoencoder"))
    p.add_argument("--checkpoints", type=Path, default=Path("models/checkpoints/autoencoder"))
    p.add_argument("--loss-csv", type=Path, default=Path("reports/plots/autoencoder_loss.csv"))
    return p.parse_args()


def main() -> None:
    relaunch_under_torchrun("pipeline.train_autoencoder")
    args = parse()
    info = setup()
    cfg = AutoencoderConfig.from_params(load_section(args.params, "autoencoder"))
    classes = class_ids(load_section(args.params, "ingest"))
    whole = ("train",) if cfg.whole_training_subjects else ()
    (train,) = load_sets(args.manifest, args.splits, args.images, "train",
                         whole_subjects=whole)
    csv_sink = CsvSink(args.loss_csv)
    tags = {"stage": "autoencoder", "data_version": file_digest(args.manifest)}
    with tracked(info.is_main, "autoencoder", {"autoencoder": cfg.to_dict()}, tags) as run:
        def on_step(step: int, metrics: dict[str, float]) -> None:
            csv_sink(step, metrics)
            if run is not None:
                run.metrics(step, metrics, "ae/")

        def on_checkpoint(step: int, path: Path) -> None:
            if run is not None:
                run.artifact(path, "checkpoints/autoencoder")

        # the perceptual feature network is its own model (crops, another seed): the judge
        # that scores reconstructions (autoencoder_report) never takes part in training
        feature_net = (train_classifier(train.images, train.labels, len(classes),
                                        cfg.feature_net_steps, cfg.seed + 1, crop=cfg.crop,
                                        progress=True, device=info.device)
                       if cfg.perceptual_weight > 0 else None)
        model = train_autoencoder(cfg, train.images, info, args.checkpoints, on_step,
                                  on_checkpoint, feature_net)
        if info.is_main:
            stats = LatentStats.fit(encode(model, train.images))
            card = ModelCard(classes, cfg.model, stats, int(train.images.shape[-1]),
                             data_version=tags["data_version"],
                             training={"autoencoder": cfg.to_dict()})
            save_model(args.out, {"autoencoder": model}, card)
            csv_sink.write()
            if run is not None:
                run.artifact(args.out / "weights.safetensors", "model")
                run.artifact(args.out / "metadata.json", "model")
            print(f"autoencoder exported to {args.out}")
    teardown(info)


if __name__ == "__main__":
    run_stage("train_autoencoder", main)
