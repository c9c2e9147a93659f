"""Benchmark: the `autoencoder` and `velocity` stages exactly as dvc.yaml runs them.

    python benchmarks/bench_train.py    # needs the ingest and split outputs (dvc repro split)

Target (issue 4): both training stages together in <= 12 minutes on 2 cores (CPU profile,
128 px). Reports wall time, steps/s, samples/s, peak RSS and whether bf16 autocast was on,
per stage, to benchmarks/results/train.json. The `classifier` stage (the judge of
reconstructions, an instrument trained once per data version) is timed too and reported
outside the target.
Each stage runs through `dvc repro --single-item --force`, so dvc.lock records the result.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import torch
import yaml

from medshift.precision import use_bf16

STAGES = {"autoencoder": "reports/plots/autoencoder_loss.csv",
          "velocity": "reports/plots/velocity_loss.csv"}


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    result: dict = {"stages": {}}
    start = time.perf_counter()
    subprocess.run(["dvc", "repro", "--single-item", "--force", "classifier"], check=True,
                   env=env)
    result["instrument"] = {"classifier": {
        "wall_seconds": round(time.perf_counter() - start, 1),
        "steps": params["classifier"]["steps"], "batch_size": params["classifier"]["batch_size"],
        "counted_in_target": False}}
    for stage, csv_path in STAGES.items():
        shutil.rmtree(f"models/checkpoints/{stage}", ignore_errors=True)  # fresh, not a resume
        start = time.perf_counter()
        subprocess.run(["dvc", "repro", "--single-item", "--force", stage], check=True, env=env)
        wall = time.perf_counter() - start
        with open(csv_path) as fh:
            rows = list(csv.DictReader(fh))
        rate = statistics.median(float(r["samples_per_s"]) for r in rows)
        section = params[stage]
        result["stages"][stage] = {
            "wall_seconds": round(wall, 1), "steps": section["steps"],
            "batch_size": section["batch_size"], "median_samples_per_s": round(rate, 1),
            "median_steps_per_s": round(rate / section["batch_size"], 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
            "bf16": use_bf16(section["bf16"], torch.device("cpu"))}
    total = sum(s["wall_seconds"] for s in result["stages"].values())
    result.update(total_seconds=round(total, 1), target_seconds=720,
                  meets_target=total <= 720, cpu_count=os.cpu_count())
    out = Path("benchmarks/results/train.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
