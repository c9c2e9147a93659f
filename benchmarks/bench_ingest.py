"""Benchmark: ingest the default simulated set (params.yaml ingest) and report files/s.

    python benchmarks/bench_ingest.py     # needs data/raw/simulated (dvc repro simulate)
    python benchmarks/bench_ingest.py --source /other/checkout/data/raw/simulated

Target (issue 3): >= 1,000 DICOM in <= 1 minute on 2 cores, streamed (bounded memory).
Writes benchmarks/results/ingest.json. Not a test: timings never gate CI.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from medshift.config.base import load_section
from medshift.config.ingest import IngestConfig
from medshift.data.ingest import collect
from medshift.data.validate import manifest_checks, run_checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--source", default=None, help="replace the first source's path")
    args = parser.parse_args()
    params = load_section(args.params, "ingest")
    if args.source:
        params["sources"] = [{**params["sources"][0], "path": args.source}]
    cfg = IngestConfig.from_params(params)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = collect(cfg, Path(tmp), progress=True)
        manifest, quarantine = result.manifest, result.quarantine
        decoded = time.perf_counter() - start
        run_checks(manifest_checks(manifest, cfg))
        total = time.perf_counter() - start
    if len(manifest) == 0:
        raise SystemExit("nothing ingested: run `dvc repro simulate` first")
    peak = [resource.getrusage(w).ru_maxrss / 1024
            for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    result = {"files": int(len(manifest) + len(quarantine)), "ingested": int(len(manifest)),
              "excluded_by_params": result.excluded,
              "workers": cfg.workers, "size": cfg.size,
              "decode_resize_write_seconds": round(decoded, 1),
              "with_validation_seconds": round(total, 1),
              "files_per_second": round(len(manifest) / total, 1),
              "target_seconds": 60, "meets_target": len(manifest) >= 1000 and total <= 60,
              "peak_rss_mb_parent": round(peak[0]), "peak_rss_mb_worker": round(peak[1])}
    out = Path("benchmarks/results/ingest.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
