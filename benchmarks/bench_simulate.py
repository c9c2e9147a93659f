"""Benchmark: render the default benchmark (params.yaml simulate) and report images/s.

    python benchmarks/bench_simulate.py [--params params.yaml] [--subjects N]

Target (issue 2): >= 1,000 aligned 256x256 images in <= 3 minutes on 2 cores.
Writes benchmarks/results/simulate.json. Not a test: timings never gate CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from medshift.config.base import load_section
from medshift.config.simulate import SimulateConfig
from medshift.simulate.dataset import simulate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--subjects", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/simulate.json"))
    args = parser.parse_args()
    values = load_section(args.params, "simulate")
    if args.subjects:
        values["subjects"] = args.subjects
    cfg = SimulateConfig.from_params(values)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        records = simulate_dataset(cfg, Path(tmp), progress=True)
        seconds = time.perf_counter() - start
        size_mb = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file()) / 2**20
    peak_mb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    result = {
        "images": len(records), "size": cfg.size, "workers": cfg.workers,
        "seconds": round(seconds, 1), "images_per_second": round(len(records) / seconds, 2),
        "target_seconds_for_1000": 180, "meets_target": len(records) >= 1000 and seconds <= 180,
        "output_mb": round(size_mb, 1), "peak_rss_mb_per_process": round(peak_mb),
        "cpu_count": os.cpu_count(), "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
