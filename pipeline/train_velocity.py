"""DVC stage `velocity`: the class-conditional latent flow-matching velocity model.

    python -m pipeline.train_velocity [paths...]      # or: torchrun --nproc_per_node=N -m ...

Latents of the training split are encoded once with the trained autoencoder and
normalised by its LatentStats. The EMA weights are exported as `models/medshift`, the
packaged translation model: autoencoder + velocity + latent stats + classes + configs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from medshift.config.base import load_section
from medshift.config.velocity import VelocityConfig
from medshift.models.autoencoder import encode
from medshift.models.card import load_autoencoder, save_model
from medshift.models.export import MedShiftModel
from medshift.training.distributed import setup, teardown
from medshift.training.velocity import train_velocity
from medshift.translation.grid import translation_grid
from medshift.translation.translate import TranslationRequest
from pipeline.common import CsvSink, load_sets, run_stage, stage_parser, tracked
from pipeline.launch import relaunch_under_torchrun
from pipeline.tracking import file_digest


def parse() -> argparse.Namespace:
    p = stage_parser(__doc__.splitlines()[0])
    p.add_argument("--autoencoder", type=Path, default=Path("models/autoencoder"))
    p.add_argument("--out", type=Path, default=Path("models/medshift"))
    p.add_argument("--checkpoints", type=Path, default=Path("models/checkpoints/velocity"))
    p.add_argument("--loss-csv", type=Path, default=Path("reports/plots/velocity_loss.csv"))
    p.add_argument("--samples", type=Path, default=Path("reports/figures/velocity_samples.png"))
    return p.parse_args()


def main() -> None:
    relaunch_under_torchrun("pipeline.train_velocity")
    args = parse()
    info = setup()
    cfg = VelocityConfig.from_params(load_section(args.params, "velocity"))
    autoencoder, ae_card = load_autoencoder(args.autoencoder)
    classes, stats = ae_card.classes, ae_card.latent_stats
    train, test = load_sets(args.manifest, args.splits, args.images, "train", "test")
    latents = stats.normalise(encode(autoencoder, train.images))
    labels = torch.from_numpy(train.labels.copy())
    request = TranslationRequest(tau=cfg.sample_tau, nfe=cfg.sample_nfe,
                                 solver=cfg.sample_method, guidance=cfg.guidance, seed=cfg.seed)
    csv_sink = CsvSink(args.loss_csv)
    tags = {"stage": "velocity", "data_version": file_digest(args.manifest)}
    with tracked(info.is_main, "velocity", {"velocity": cfg.to_dict()}, tags) as run:
        def sample(step: int, ema_model) -> None:
            model = MedShiftModel(autoencoder, ema_model,
                                  ae_card.with_velocity(ema_model.spec.to_dict(), cfg.to_dict()))
            fig = translation_grid(test.images, test.labels, model, request)
            if run is not None:
                run.figure(fig, f"samples/step-{step:07d}.png")
            if step == cfg.steps:
                args.samples.parent.mkdir(parents=True, exist_ok=True)
                fig.savefig(args.samples, dpi=110)

        def on_step(step: int, metrics: dict[str, float]) -> None:
            csv_sink(step, metrics)
            if run is not None:
                run.metrics(step, metrics, "velocity/")

        def on_checkpoint(step: int, path: Path) -> None:
            if run is not None:
                run.artifact(path, "checkpoints/velocity")

        _, ema = train_velocity(cfg, latents, labels, len(classes), info, args.checkpoints,
                                on_step, on_checkpoint,
                                on_sample=sample if info.is_main else None)
        if info.is_main:
            save_model(args.out, {"autoencoder": autoencoder, "velocity": ema},
                       ae_card.with_velocity(ema.spec.to_dict(), cfg.to_dict()))
            csv_sink.write()
            if run is not None:
                run.artifact(args.out / "weights.safetensors", "model")
                run.artifact(args.out / "metadata.json", "model")
            print(f"trained velocity model exported to {args.out}")
    teardown(info)


if __name__ == "__main__":
    run_stage("train_velocity", main)
