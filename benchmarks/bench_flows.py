"""Benchmark: what orchestration costs on top of DVC, on the tiny repository of the tests.

    python benchmarks/bench_flows.py [--out benchmarks/results/flows.json]

Times, in one process with an ephemeral Prefect API: the first `retrain` (9 stages + push,
every stage runs), a second `retrain` with everything up to date (pure orchestration: a
Prefect task and a `dvc repro` that skips, per stage), and plain `dvc repro` of the same
stages without Prefect, up to date, for comparison. The stages do almost nothing, so the
figures are the overhead a real run pays per stage, not training time.
Not a test: timings never gate CI.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]

from tests.integration.tiny_repo import make_tiny_repo  # noqa: E402


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, round(time.perf_counter() - start, 2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "benchmarks/results/flows.json")
    args = p.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PREFECT_HOME"] = str(Path(tmp) / "prefect-home")
        root = make_tiny_repo(Path(tmp) / "repo")
        flows, import_s = _timed(lambda: importlib.import_module("pipeline.flows"))
        retrain, retrain_groups = flows.retrain, flows.RETRAIN

        first, first_s = _timed(lambda: retrain(repo=str(root), return_state=True))
        again, again_s = _timed(lambda: retrain(repo=str(root), return_state=True))
        assert first.is_completed() and again.is_completed()
        stages = [s for _, group in retrain_groups for s in group]
        _, dvc_s = _timed(lambda: [subprocess.run(
            [sys.executable, "-m", "dvc", "repro", s], cwd=root, check=True,
            capture_output=True) for s in stages])
        commands = len(again.result()["runs"])
    result = {"import_flows_s (prefect included)": import_s,
              "retrain_first_s (incl. ephemeral API start)": first_s,
              "retrain_up_to_date_s": again_s,
              "commands_per_retrain": commands,
              "per_command_overhead_s": round(again_s / commands, 2),
              "plain_dvc_repro_up_to_date_s": dvc_s,
              "plain_dvc_per_stage_s": round(dvc_s / len(stages), 2),
              "cpu_cores": os.cpu_count(),
              "load_average_at_end": round(os.getloadavg()[0], 2)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
