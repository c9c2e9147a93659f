"""Benchmark: can the judge's texture statistics tell real_low from real_normal at 128 px?

    python benchmarks/judge_proxy.py --subjects 24 --strength 0.5 --strength 0.6

A cheap proxy for the `classifier` stage when a simulator default changes: renders
real_low and real_normal for the first ``--subjects`` subjects of params.yaml's simulate
section (every view), with real_low's noise-reduction strength set to each ``--strength``,
downsamples them as ingest does, and scores a linear classifier (the judge's texture
expert: ``fit_texture_head`` on ``texture_statistics``) by subject-grouped k-fold CV.
Also reports each class's mean display noise sigma in the head at 256 px (the simulator's
own ordering check wants real_low above real_normal). Results go to
benchmarks/results/judge_proxy.json. Not a test: never gates CI.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from medshift.acquisition import BENCHMARK_CLASSES, VIEW_TABLE
from medshift.config.base import load_section
from medshift.config.simulate import SimulateConfig
from medshift.data.ingest import resize_square
from medshift.models.classifier import DomainClassifier
from medshift.models.texture_stats import texture_statistics
from medshift.simulate.classes import RealClassSpec, class_spec, sample_params
from medshift.simulate.dataset import _rng
from medshift.simulate.formation import detector_fpn, real_field, render_real
from medshift.simulate.geometry import sample_view
from medshift.simulate.phantom import build_head
from medshift.simulate.projector import chord_maps
from medshift.training.classifier import fit_texture_head

CLASSES = ("real_low", "real_normal")
RESULTS = Path("benchmarks/results/judge_proxy.json")


def render(cfg: SimulateConfig, subjects: int, strengths: list[float], size: int
           ) -> dict[float, dict[str, np.ndarray]]:
    """Per strength: images (N, 1, size, size), labels (N,), subjects (N,), sigma (N,)."""
    fpn = detector_fpn(cfg.size, _rng(cfg, 3))
    rows: dict[float, list[tuple]] = {s: [] for s in strengths}
    for subject in range(cfg.first_subject, cfg.first_subject + subjects):
        phantom = build_head(_rng(cfg, 0, subject))
        for view in cfg.views:
            v = list(VIEW_TABLE).index(view)
            geom = sample_view(view, _rng(cfg, 1, subject, v), cfg.detector_side_cm)
            maps = chord_maps(phantom, geom, cfg.size, cfg.supersample)
            head = (maps.total > 1.0) & real_field(geom, cfg.size)
            for label, name in enumerate(CLASSES):
                base = class_spec(name)
                assert isinstance(base, RealClassSpec)
                for strength in strengths:
                    spec = (dataclasses.replace(base, nr_strength=strength)
                            if name == "real_low" else base)
                    rng = _rng(cfg, 2, subject, v, BENCHMARK_CLASSES.index(name))
                    p = sample_params(spec, rng, lateral=view.startswith("LAT"))
                    r = render_real(maps, geom, spec, p, fpn, head, rng, cfg.noise_reference_mm)
                    rows[strength].append((resize_square(r.display, size), label, subject,
                                           float((r.display - r.clean)[head].std())))
    return {s: {"images": np.stack([r[0] for r in rs])[:, None].astype(np.float32),
                "labels": np.array([r[1] for r in rs]), "subjects": np.array([r[2] for r in rs]),
                "sigma": np.array([r[3] for r in rs])} for s, rs in rows.items()}


def grouped_cv_accuracy(stats: torch.Tensor, labels: np.ndarray, groups: np.ndarray,
                        folds: int, c: float) -> dict[str, float]:
    """Per-class accuracy of the texture expert under subject-grouped k-fold CV."""
    fold_of = {g: k % folds for k, g in enumerate(np.unique(groups))}
    fold = np.array([fold_of[g] for g in groups])
    pred = np.empty_like(labels)
    for k in range(folds):
        train, test = fold != k, fold == k
        model = DomainClassifier(len(CLASSES), texture=True)
        model.set_texture_norm(stats[train])
        fit_texture_head(model, stats[train], torch.from_numpy(labels[train]), c)
        assert model.texture_head is not None
        with torch.no_grad():
            z = (stats[test] - model.texture_mean) / model.texture_std
            pred[test] = model.texture_head(z).argmax(1).numpy()
    return {name: round(float((pred[labels == i] == i).mean()), 4)
            for i, name in enumerate(CLASSES)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", type=Path, default=Path("params.yaml"))
    p.add_argument("--subjects", type=int, default=24)
    p.add_argument("--strength", type=float, action="append", required=True,
                   help="real_low noise-reduction strength (repeat for several)")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--folds", type=int, default=8)
    p.add_argument("--c", type=float, default=10.0, help="the texture expert's inverse L2")
    args = p.parse_args()
    cfg = SimulateConfig.from_params(load_section(args.params, "simulate"))
    start = time.perf_counter()
    sets = render(cfg, args.subjects, args.strength, args.size)
    results = {}
    for strength, s in sets.items():
        x = torch.from_numpy(s["images"])
        stats = torch.cat([texture_statistics(x[k:k + 64]) for k in range(0, len(x), 64)])
        results[f"real_low_nr_{strength:g}"] = {
            "cv_accuracy": grouped_cv_accuracy(stats, s["labels"], s["subjects"],
                                               min(args.folds, args.subjects), args.c),
            "sigma_256": {name: round(float(s["sigma"][s["labels"] == i].mean()), 5)
                          for i, name in enumerate(CLASSES)}}
        print(strength, results[f"real_low_nr_{strength:g}"], flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    old.update({k: {**v, "subjects": args.subjects, "size": args.size, "c": args.c}
                for k, v in results.items()})
    RESULTS.write_text(json.dumps(old, indent=2) + "\n")
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
