"""Benchmark: the reference and evaluate stages on the default test split (128 px).

    python benchmarks/bench_evaluate.py [--root DIR] [--translations DIR] [--simulated DIR]

Reads data/interim, data/processed/splits.parquet, models/classifier and models/medshift
under --root. Without --translations, a synthetic index in the translate stage's format is
made from real test images over params.translate's grid (MedShift on every planned pair,
SDEdit on the cross-domain pairs at sdedit_taus: 2,240 images by default), so the cost is
the real one. Missing weights are replaced by untrained networks of the params' shapes
(cost only; the result says so). Budget (issue 14): translate + evaluate <= 5 minutes on 2
cores, so evaluate well under 2. Writes benchmarks/results/evaluate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from medshift.config.autoencoder import AutoencoderConfig
from medshift.config.base import load_section
from medshift.config.evaluate import EvaluateConfig
from medshift.config.ingest import IngestConfig
from medshift.config.translate import TranslateConfig
from medshift.data.datasets import load_split
from medshift.evaluation.benchmark import TestImages
from medshift.evaluation.evaluate import evaluate
from medshift.evaluation.inputs import load_translations
from medshift.evaluation.reference import build_reference
from medshift.evaluation.report import ReportPaths, write_all
from medshift.evaluation.scoring import judge_bf16
from medshift.evaluation.truth import load_truth
from medshift.models.autoencoder import KLAutoencoder, reconstruct
from medshift.models.card import load_autoencoder
from medshift.models.classifier import DomainClassifier, load_classifier
from medshift.translation.plan import baseline_plan, translation_plan


def synthetic_index(test, domains, out: Path, cfg: TranslateConfig, seed: int = 0) -> None:
    """The translate stage's grid over real test images: 'translations' are noisy blends
    of source and true target (content only moves texture-ROI counts, not the cost)."""
    rng = np.random.default_rng(seed)
    rows = test.rows.reset_index(drop=True)
    key = {(s, v, c): k for k, (s, v, c) in enumerate(zip(
        rows["subject_id"], rows["view"], rows["class_name"], strict=True))}
    plan = translation_plan(domains, cfg.taus, cfg.cross_domain_taus)
    jobs = [("medshift", p) for p in plan]
    jobs += [("sdedit", p) for p in baseline_plan(plan, domains, cfg.sdedit_taus)]
    index, stack = [], []
    for method, p in jobs:
        for k in np.flatnonzero(rows["class_name"] == p.source):
            j = key.get((rows["subject_id"][k], rows["view"][k], p.target))
            if j is None:
                continue
            img = p.tau * test.images[k, 0] + (1 - p.tau) * test.images[j, 0]
            img = np.clip(img + 0.01 * rng.standard_normal(img.shape), 0, 1)
            index.append({"image_id": rows["image_id"][k], "source": p.source,
                          "target": p.target, "method": method, "tau": p.tau,
                          "solver": cfg.solver, "nfe": cfg.nfe, "guidance": cfg.guidance,
                          "seconds": 0.0, "file": "bench.npy", "row": len(stack)})
            stack.append(np.round(img * 65535).astype(np.uint16))
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "bench.npy", np.stack(stack))
    pd.DataFrame(index).to_parquet(out / "index.parquet")


def models(root: Path, classes: tuple[str, ...]) -> tuple[DomainClassifier, KLAutoencoder, str]:
    """The trained classifier and autoencoder under ``root``, else untrained ones."""
    torch.manual_seed(0)
    ae_cfg = AutoencoderConfig.from_params(load_section("params.yaml", "autoencoder"))
    found = []
    try:
        classifier, _ = load_classifier(root / "models/classifier")
        found.append("classifier")
    except (OSError, KeyError):
        classifier = DomainClassifier(len(classes)).eval()
    for folder in ("models/medshift", "models/autoencoder"):
        try:
            autoencoder, _ = load_autoencoder(root / folder)
            found.append(folder)
            break
        except (OSError, KeyError, ValueError):
            autoencoder = KLAutoencoder(ae_cfg.model).eval()
    return classifier, autoencoder, f"trained: {found or 'none'}; others untrained (cost only)"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=Path("."))
    p.add_argument("--simulated", type=Path, default=None)
    p.add_argument("--translations", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/evaluate.json"))
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)  # as the stages do
    cfg = EvaluateConfig.from_params(load_section("params.yaml", "evaluate"))
    ingest = IngestConfig.from_params(load_section("params.yaml", "ingest"))
    tcfg = TranslateConfig.from_params(load_section("params.yaml", "translate"))
    classes, domains = ingest.class_ids, {c.id: c.domain for c in ingest.classes}
    root = args.root
    simulated = args.simulated or root / "data/raw/simulated"
    manifest = pd.read_parquet(root / "data/interim/manifest.parquet")
    splits = pd.read_parquet(root / "data/processed/splits.parquet")
    images = root / "data/interim/images"
    classifier, autoencoder, weights = models(root, classes)
    clock = {"start": time.perf_counter()}
    refs = [load_split(manifest, splits, images, s) for s in cfg.reference_splits]
    ref_rows = pd.concat([r.rows for r in refs], ignore_index=True)
    hist = load_split(manifest, splits, images, cfg.histogram_split)
    reference = build_reference(
        classifier, classes, np.concatenate([r.images for r in refs]),
        np.concatenate([r.labels for r in refs]),
        load_truth(ref_rows, simulated, ingest.size).fields, hist.images, hist.labels,
        cfg.nps_roi, cfg.mmd_bandwidth, judge_bf16(cfg))
    clock["reference"] = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        test = load_split(manifest, splits, images, "test")
        folder = args.translations
        if folder is None:
            folder = Path(tmp) / "translations"
            synthetic_index(test, domains, folder, tcfg)
        clock["index_made"] = time.perf_counter()
        translations = load_translations(folder, ingest.size)
        truth = load_truth(test.rows, simulated, ingest.size)
        start = time.perf_counter()
        recon = reconstruct(autoencoder, test.images, seed=cfg.seed)
        per_image = (time.perf_counter() - start) / len(test)
        test_set = TestImages(test.rows, test.images, truth.fields, truth.clean, recon,
                              per_image)
        clock["loaded"] = time.perf_counter()
        ev = evaluate(test_set, translations, reference, classifier, classes, domains, cfg,
                      tcfg.tau)
        clock["evaluated"] = time.perf_counter()
        context = {"headline_tau": cfg.headline_tau, "test_images": len(test.rows),
                   "test_subjects": int(test.rows["subject_id"].nunique()),
                   "reference_splits": cfg.reference_splits, "prdc_k": cfg.prdc_k,
                   "translations": len(translations.index), "seconds": ev.seconds}
        out = Path(tmp) / "reports"
        write_all(ev, ReportPaths(out / "metrics.json", out / "plots", out / "figures",
                                  out / "report.md", out / "evaluation.csv"),
                  classes, cfg.headline_groups, context)
        clock["written"] = time.perf_counter()
    evaluate_s = (clock["written"] - clock["index_made"])
    result = {
        "translations": int(len(translations.index)), "size": ingest.size,
        "test_images": int(len(test.rows)), "fields_found": int(truth.found.sum()),
        "weights": weights, "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
        "seconds": {"reference_stage": round(clock["reference"] - clock["start"], 1),
                    "evaluate_load_and_reconstruct": round(clock["loaded"]
                                                           - clock["index_made"], 1),
                    **{f"evaluate_{k}": round(v, 1) for k, v in ev.seconds.items()},
                    "evaluate_write_report": round(clock["written"] - clock["evaluated"], 1),
                    "evaluate_stage": round(evaluate_s, 1)},
        "process_cpu_seconds": round(time.process_time(), 1),
        "target_evaluate_seconds": 120, "meets_target": evaluate_s <= 120,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
