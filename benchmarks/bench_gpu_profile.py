"""Benchmark: the GPU profile's training and translation costs on one CUDA device.

    python benchmarks/bench_gpu_profile.py [--steps 40] [--out benchmarks/results/gpu_profile.json]

Runs the project's own training and translation code (train_classifier, train_autoencoder,
train_velocity, save_model/load_medshift, translate) with params.yaml's sections merged with
profiles/gpu.yaml (512 px, factor-8 latents, the paper-scale widths and batches) for a few
steps each, on images of the profile's size whose content is smoothed noise: the step cost
does not depend on the content, so the timings hold, while no quality is measured. Per
stage it reports seconds per step (median over logged intervals after a warm-up), the
stage's extrapolated hours at the profile's step count, peak CUDA memory (GiB) and bf16;
for translation, images/s at the default settings and peak memory. It also checks what a
CPU machine cannot: the models, latents and outputs live on the CUDA device, a repeated
translation with the same seed is identical, and the export loads back onto the device.

Without CUDA it runs on the CPU at --size (a smoke test of the script, not a GPU figure).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from medshift.config.autoencoder import AutoencoderConfig
from medshift.config.base import merge
from medshift.config.classifier import ClassifierConfig
from medshift.config.translate import TranslateConfig
from medshift.config.velocity import VelocityConfig
from medshift.latents import LatentStats
from medshift.models.autoencoder import encode
from medshift.models.card import ModelCard
from medshift.models.export import load_medshift, save_model
from medshift.precision import use_bf16
from medshift.training.autoencoder import train_autoencoder
from medshift.training.classifier import train_classifier
from medshift.training.distributed import DistInfo
from medshift.training.velocity import train_velocity
from medshift.translation.translate import TranslationRequest, translate

CLASSES = ("syn_low", "syn_high", "real_low", "real_normal", "real_exposure")


def profile_sections(params: Path) -> dict[str, dict]:
    """params.yaml's sections with profiles/gpu.yaml merged over them."""
    base = yaml.safe_load(params.read_text())
    overlay = yaml.safe_load((params.parent / "profiles" / "gpu.yaml").read_text())
    return {k: merge(v, overlay.get(k, {})) for k, v in base.items() if isinstance(v, dict)}


def smooth_images(n: int, size: int, seed: int) -> np.ndarray:
    """(n, 1, size, size) float32 in [0, 1]: blurred noise with a little fine grain."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, size // 16, size // 16, generator=gen)
    x = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    x = x + 0.03 * torch.randn(x.shape, generator=gen)
    return x.clamp(0, 1).numpy().astype(np.float32)


def peak_gib(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


class StepClock:
    """Seconds per step from the training loop's logging callback (it syncs the device)."""

    def __init__(self) -> None:
        self.marks: list[tuple[int, float]] = []

    def __call__(self, step: int, metrics: dict[str, float]) -> None:
        self.marks.append((step, time.perf_counter()))

    def seconds_per_step(self) -> float:
        pairs = list(zip(self.marks[1:], self.marks[2:], strict=False))  # skip the warm-up
        rates = [(t1 - t0) / (s1 - s0) for (s0, t0), (s1, t1) in pairs]
        return statistics.median(rates)


def timed_classifier(images: np.ndarray, labels: np.ndarray, cfg: ClassifierConfig,
                     device: torch.device, steps: int, crop: int | None) -> dict:
    """The slope of train_classifier's wall time between steps and 3 * steps (after a
    2-step warm-up: CUDA context and kernel selection)."""
    walls = []
    for n in (2, steps, 3 * steps):
        reset_peak(device)
        start = time.perf_counter()
        train_classifier(images, labels, len(CLASSES), n, cfg.seed, cfg.batch_size, crop=crop,
                         lr=cfg.lr, texture=cfg.texture and crop is None, width=cfg.width,
                         texture_c=cfg.texture_c, device=device)
        walls.append(time.perf_counter() - start)
    return {"seconds_per_step": (walls[2] - walls[1]) / (2 * steps),
            "peak_gib": peak_gib(device)}


def stage_entry(seconds_per_step: float, profile_steps: int, peak: float | None,
                bf16: bool | None = None) -> dict:
    entry = {"seconds_per_step": round(seconds_per_step, 4), "profile_steps": profile_steps,
             "hours_at_profile_steps": round(seconds_per_step * profile_steps / 3600, 2),
             "peak_gib": peak}
    if bf16 is not None:
        entry["bf16"] = bf16
    return entry


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", type=Path, default=Path("params.yaml"))
    p.add_argument("--steps", type=int, default=40, help="timed steps per training stage")
    p.add_argument("--images", type=int, default=256, help="images of the profile's size")
    p.add_argument("--size", type=int, default=None, help="image size (default: the profile's)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu_profile.json"))
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sections = profile_sections(args.params)
    size = args.size or int(sections["ingest"]["size"])
    result: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda"
                    else "cpu", "torch": torch.__version__, "image_size": size,
                    "timed_steps": args.steps, "stages": {}, "checks": {}}
    images = smooth_images(args.images, size, 0)
    labels = np.arange(args.images, dtype=np.int64) % len(CLASSES)
    log_every = max(1, args.steps // 8)

    judge_cfg = ClassifierConfig.from_params(sections["classifier"])
    timing = timed_classifier(images, labels, judge_cfg, device, args.steps, None)
    result["stages"]["classifier"] = stage_entry(timing["seconds_per_step"], judge_cfg.steps,
                                                 timing["peak_gib"])
    print("classifier", result["stages"]["classifier"], flush=True)

    ae_cfg = AutoencoderConfig.from_params(sections["autoencoder"])
    ae_cfg = replace(ae_cfg, crop=min(ae_cfg.crop, size))
    feature = timed_classifier(images, labels, judge_cfg, device, args.steps, ae_cfg.crop)
    feature_net = train_classifier(images, labels, len(CLASSES), 2, crop=ae_cfg.crop,
                                   device=device)
    info = DistInfo(0, 1, device)
    with tempfile.TemporaryDirectory() as tmp:
        clock = StepClock()
        reset_peak(device)
        run_cfg = replace(ae_cfg, steps=args.steps, log_every=log_every,
                          checkpoint_every=10**9)
        autoencoder = train_autoencoder(run_cfg, images, info, Path(tmp) / "ae", clock,
                                        feature_net=feature_net)
        ae_time = clock.seconds_per_step()
        result["stages"]["autoencoder"] = {
            **stage_entry(ae_time, ae_cfg.steps, peak_gib(device),
                          use_bf16(ae_cfg.bf16, device)),
            "feature_net_seconds_per_step": round(feature["seconds_per_step"], 4),
            "feature_net_hours": round(feature["seconds_per_step"]
                                       * ae_cfg.feature_net_steps / 3600, 2)}
        print("autoencoder", result["stages"]["autoencoder"], flush=True)

        latents = encode(autoencoder, images)
        stats = LatentStats.fit(latents)
        result["checks"]["latent_shape"] = list(latents.shape[1:])
        v_cfg = VelocityConfig.from_params(sections["velocity"])
        clock = StepClock()
        reset_peak(device)
        run_cfg = replace(v_cfg, steps=args.steps, log_every=log_every,
                          checkpoint_every=10**9, sample_every=10**9)
        _, ema = train_velocity(run_cfg, stats.normalise(latents), torch.from_numpy(labels),
                                len(CLASSES), info, Path(tmp) / "velocity", clock)
        result["stages"]["velocity"] = stage_entry(clock.seconds_per_step(), v_cfg.steps,
                                                   peak_gib(device),
                                                   use_bf16(v_cfg.bf16, device))
        print("velocity", result["stages"]["velocity"], flush=True)

        card = ModelCard(CLASSES, ae_cfg.model, stats, size, velocity=ema.spec.to_dict())
        save_model(Path(tmp) / "medshift", {"autoencoder": autoencoder, "velocity": ema}, card)
        model = load_medshift(Path(tmp) / "medshift", device)
    result["checks"]["export_device"] = str(model.device)

    t_cfg = TranslateConfig.from_params(sections["translate"])
    request = TranslationRequest(tau=0.45, nfe=t_cfg.nfe, solver=t_cfg.solver,
                                 guidance=t_cfg.guidance, batch_size=t_cfg.batch_size,
                                 bf16=t_cfg.bf16)
    batch = images[:min(len(images), 2 * t_cfg.batch_size)]
    translate(model, batch[:2], "syn_high", "real_normal", request)  # warm-up
    reset_peak(device)
    start = time.perf_counter()
    first = translate(model, batch, "syn_high", "real_normal", request)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    small = translate(model, batch[:4], "syn_high", "real_normal", request)
    again = translate(model, batch[:4], "syn_high", "real_normal", request)
    result["stages"]["translate"] = {
        "images_per_s": round(len(batch) / seconds, 1), "nfe": first.nfe,
        "batch_size": t_cfg.batch_size, "peak_gib": peak_gib(device),
        "bf16": use_bf16(t_cfg.bf16, device)}
    # register's sanity check asks two identical calls for equal outputs; batching may
    # legitimately change kernels (and so the last bits) on CUDA
    result["checks"]["repeat_max_abs_diff"] = float(np.abs(small.images - again.images).max())
    result["checks"]["batch_of_4_vs_128_max_abs_diff"] = float(
        np.abs(first.images[:4] - small.images).max())
    result["checks"]["translation_finite_in_range"] = bool(
        np.isfinite(first.images).all() and first.images.min() >= 0
        and first.images.max() <= 1)
    print("translate", result["stages"]["translate"], flush=True)
    print("checks", result["checks"], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
