"""Translation speed, solver accuracy and memory, on the trained default model.

    python benchmarks/bench_translate.py [--model models/medshift] [--quick]

1. Solver table: images/s of the translation itself (working-size arrays in, arrays out)
   and mean SSIM of each output against a 128-NFE rk4 reference (same per-image decoder
   noise, so only the ODE error differs), for euler/midpoint/heun/rk4 at NFE 4-32 and
   adaptive dopri5; 56 test images, syn_high -> real_normal and real_normal -> syn_high.
2. End to end through `medshift translate`: DICOM files in, DICOM files out (decode,
   resample, translate, resample, encode), images/s at the default settings.
3. Peak RSS of `medshift translate` on 100 and on 1,000 inputs (a child process each).
4. `--source auto` through the CLI on every test-split DICOM: the share whose predicted
   source is the true class, next to the classifier stage's own test accuracy.
Writes benchmarks/results/translate.json. Run on a quiet machine: timings are wall clock.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torchmetrics.functional.image import structural_similarity_index_measure as ssim

from medshift.data.datasets import load_split
from medshift.models.export import load_medshift
from medshift.translation.translate import TranslationRequest, translate

REPO = Path(__file__).resolve().parents[1]
PAIRS = (("syn_high", "real_normal"), ("real_normal", "syn_high"))


def _images(model, source: str, split: str = "test") -> tuple[np.ndarray, list[str]]:
    """Working-size images and image_ids of one class of a split."""
    data = load_split(pd.read_parquet(REPO / "data/interim/manifest.parquet"),
                      pd.read_parquet(REPO / "data/processed/splits.parquet"),
                      REPO / "data/interim/images", split)
    mask = data.labels == model.label(source)
    return data.images[mask], data.rows.loc[mask, "image_id"].tolist()


def solver_table(model, quick: bool) -> list[dict]:
    """Images/s and SSIM to the rk4-128 reference for each solver and NFE."""
    inputs = [(_images(model, s), s, t) for s, t in PAIRS]
    nfes = (4, 8, 12) if quick else (4, 8, 12, 16, 32)
    settings = [(s, n) for s in ("euler", "midpoint", "heun", "rk4") for n in nfes]
    settings.append(("dopri5", 0))
    refs = [translate(model, x, s, t, TranslationRequest(solver="rk4", nfe=128),
                      keys=keys).images for (x, keys), s, t in inputs]
    rows = []
    for solver, nfe in settings:
        request = TranslationRequest(solver=solver, nfe=max(nfe, 1))
        start, scores, count, used = time.perf_counter(), [], 0, []
        for ((x, keys), s, t), ref in zip(inputs, refs, strict=True):
            out = translate(model, x, s, t, request, keys=keys)
            scores.append(ssim(torch.from_numpy(out.images), torch.from_numpy(ref),
                               data_range=1.0).item())
            count, used = count + len(x), [*used, out.nfe]
        seconds = time.perf_counter() - start
        rows.append({"solver": solver, "nfe_budget": nfe or "adaptive",
                     "nfe": int(np.mean(used)), "images_per_s": round(count / seconds, 2),
                     "ssim_to_rk4_128": round(float(np.mean(scores)), 4)})
        print(rows[-1], flush=True)
    return rows


def _dicoms(n: int, folder: Path) -> Path:
    """``n`` DICOM inputs: the simulated syn_high test files, repeated under new names."""
    manifest = pd.read_parquet(REPO / "data/interim/manifest.parquet")
    splits = pd.read_parquet(REPO / "data/processed/splits.parquet")
    rows = manifest.merge(splits[splits.split == "test"], on="image_id")
    paths = [REPO / p for p in rows.loc[(rows.domain == "synthetic") & (rows.dose == "high"),
                                          "path"]]
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        shutil.copy(paths[k % len(paths)], folder / f"in{k:05d}.dcm")
    return folder


_CHILD = ("import resource, sys; from medshift.cli import main; rc = main(sys.argv[1:]); "
          "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); "
          "sys.exit(rc)")


def _cli(model: Path, inputs: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one `medshift translate` child process."""
    cmd = [sys.executable, "-c", _CHILD, "translate", "--model", str(model), "--source",
           "syn_high", "--target", "real_normal", "--quiet", "--out", str(out), str(inputs)]
    start = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak = int(done.stdout.split("peak_rss_kib")[-1].split()[0]) / 1024
    return wall, peak


def auto_source_accuracy(model_dir: Path, tmp: Path) -> dict:
    """`medshift translate --source auto` on the test split's DICOM files."""
    manifest = pd.read_parquet(REPO / "data/interim/manifest.parquet")
    splits = pd.read_parquet(REPO / "data/processed/splits.parquet")
    rows = manifest.merge(splits[splits.split == "test"], on="image_id")
    folder = tmp / "auto_in"
    folder.mkdir()
    truth = {}
    for k, row in enumerate(rows.itertuples()):
        name = f"in{k:04d}.dcm"
        shutil.copy(REPO / row.path, folder / name)
        truth[name] = row.class_name
    cmd = [sys.executable, "-m", "medshift.cli", "translate", "--model", str(model_dir),
           "--source", "auto", "--target", "real_normal", "--quiet", "--out",
           str(tmp / "auto_out"), str(folder)]
    lines = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    picked = {Path(line.split(":")[0]).name: line.rsplit("-> ", 1)[1].strip()
              for line in lines.splitlines() if "source auto ->" in line}
    hits = sum(picked.get(name) == cls for name, cls in truth.items())
    judge = json.loads((REPO / "reports/classifier.json").read_text())
    return {"images": len(truth), "accuracy": round(hits / len(truth), 4),
            "classifier_stage_accuracy": judge["overall_accuracy"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=REPO / "models/medshift")
    p.add_argument("--quick", action="store_true", help="fewer settings and inputs")
    p.add_argument("--skip-solvers", action="store_true",
                   help="keep the solver table of the existing results file")
    args = p.parse_args()
    out = REPO / "benchmarks/results/translate.json"
    model = load_medshift(args.model)
    result = {"threads": torch.get_num_threads(), "image_size": model.card.image_size,
              "default": TranslationRequest().__dict__}
    result["solvers"] = (json.loads(out.read_text())["solvers"] if args.skip_solvers
                         else solver_table(model, args.quick))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n = 100 if args.quick else 200
        wall, _ = _cli(args.model, _dicoms(n, tmp / "e2e"), tmp / "e2e_out")
        result["end_to_end"] = {"inputs": n, "seconds": round(wall, 2),
                                "images_per_s": round(n / wall, 2),
                                "note": "DICOM in and out, includes process start-up"}
        print(result["end_to_end"], flush=True)
        rss = {}
        for count in (100,) if args.quick else (100, 1000):
            shutil.rmtree(tmp / "rss", ignore_errors=True)
            shutil.rmtree(tmp / "rss_out", ignore_errors=True)
            _, peak = _cli(args.model, _dicoms(count, tmp / "rss"), tmp / "rss_out")
            rss[count] = round(peak, 1)
            print({"inputs": count, "peak_rss_mib": rss[count]}, flush=True)
        result["peak_rss_mib"] = rss
        result["auto_source"] = auto_source_accuracy(args.model, tmp)
        print(result["auto_source"], flush=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
