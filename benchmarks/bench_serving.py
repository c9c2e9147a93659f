"""Benchmark: `mlflow models serve` of the registered MedShift pyfunc, request latency after
start-up (issue 15: <= 1 s for one 128 px image on 2 cores).

    python benchmarks/bench_serving.py [--model models/medshift] [--requests 20]

Logs ``--model`` as the pyfunc into a temporary SQLite store (never the repository's),
promotes it, serves ``models:/medshift@production`` on loopback with ``--env-manager local``,
times the start-up (until /ping answers), then one warm-up and ``--requests`` requests of one
image with the params' default translation (the signature's defaults), and the library's
in-process translation of the same image for comparison. Writes
benchmarks/results/serving.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

REPO = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=REPO / "models/medshift")
    p.add_argument("--params", type=Path, default=REPO / "params.yaml")
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks/results/serving.json")
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    os.environ.update({"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
                       "MLFLOW_ARTIFACT_ROOT": (root / "artifacts").as_uri(),
                       "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"})
    from pipeline import store
    from pipeline.register import log_version, served_params

    from medshift.config.base import load_section
    from medshift.config.register import RegisterConfig
    from medshift.config.translate import TranslateConfig
    from medshift.models.export import load_medshift
    from medshift.translation.translate import TranslationRequest, translate

    cfg = RegisterConfig.from_params(load_section(args.params, "register"))
    defaults = served_params(cfg, TranslateConfig.from_params(
        load_section(args.params, "translate")))
    model = load_medshift(args.model)
    size = model.card.image_size
    x = np.random.default_rng(0).random((1, 1, size, size)).astype(np.float32)
    c = store.client()
    version, _ = log_version(c, cfg, defaults, args.model, model, x, {}, {})
    store.promote(c, cfg.name, version.version, "benchmark")
    request = TranslationRequest(tau=defaults["tau"], nfe=defaults["nfe"],
                                 solver=defaults["solver"], guidance=defaults["guidance"],
                                 seed=defaults["seed"])
    library = []
    for _ in range(5):
        start = time.perf_counter()
        want = translate(model, x, defaults["source"], defaults["target"], request).images
        library.append(time.perf_counter() - start)
    port = _port()
    cmd = [str(Path(sys.executable).with_name("mlflow")), "models", "serve", "-m",
           f"models:/{cfg.name}@production", "--env-manager", "local", "-h", "127.0.0.1",
           "-p", str(port), "-w", "1"]
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.perf_counter() - started > 180:
                raise SystemExit("bench_serving: the server did not start")
            time.sleep(0.2)
        startup = time.perf_counter() - started
        body = {"inputs": x.tolist()}
        first = requests.post(f"{url}/invocations", json=body, timeout=60)
        got = np.asarray(first.json()["predictions"], np.float32)
        latencies = []
        for _ in range(args.requests):
            start = time.perf_counter()
            answer = requests.post(f"{url}/invocations", json=body, timeout=60)
            latencies.append(time.perf_counter() - start)
            assert answer.status_code == 200, answer.text[:300]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    result = {"model": str(args.model), "image_size": size, "params": defaults,
              "cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
              "startup_s": round(startup, 2),
              "requests": args.requests,
              "latency_s": {"median": round(float(np.median(latencies)), 3),
                            "p90": round(float(np.quantile(latencies, 0.9)), 3),
                            "max": round(float(np.max(latencies)), 3)},
              "library_in_process_s": round(float(np.median(library)), 3),
              "served_equals_library": bool(np.array_equal(got, want))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
