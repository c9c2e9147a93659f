"""The real deployment path on loopback: `prefect server start`, a process work pool
``gpu``, `prefect deploy` of the repository's own prefect.yaml (copied into a tiny DVC
repository), `prefect worker start` in an unrelated folder, and a run of ``retrain-gpu`` to
completion. Bounded in time; server and worker are always stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.tiny_repo import REPO, make_tiny_repo

pytestmark = pytest.mark.slow
PREFECT = [sys.executable, "-m", "prefect"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen | None) -> None:
    """SIGTERM, then SIGKILL, to the process group this test started."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def _wait_healthy(url: str, server: subprocess.Popen, log: Path, limit_s: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        assert server.poll() is None, f"server exited: {log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.read().strip() == b"true":
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"no /api/health after {limit_s} s: {log.read_text()[-3000:]}")


def test_server_worker_and_deployment_run_retrain_gpu(tmp_path):
    repo = make_tiny_repo(tmp_path / "repo")
    shutil.copy(REPO / "prefect.yaml", repo / "prefect.yaml")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"),
           "PREFECT_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "PREFECT_WORKER_QUERY_SECONDS": "2",
           "PYTHONPATH": os.pathsep.join([str(repo), str(REPO / "src")])}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    elsewhere = tmp_path / "worker-cwd"
    elsewhere.mkdir()
    server = worker = None
    timings = {}
    try:
        server_log = tmp_path / "server.log"
        server = subprocess.Popen(
            [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port),
             "--analytics-off"], env=env, cwd=tmp_path, stdout=server_log.open("w"),
            stderr=subprocess.STDOUT, start_new_session=True)
        timings["server_healthy_s"] = _wait_healthy(api, server, server_log, 120)

        def cli(*args: str, timeout: float = 120) -> str:
            out = subprocess.run([*PREFECT, *args], env=env, cwd=repo, capture_output=True,
                                 text=True, timeout=timeout)
            assert out.returncode == 0, f"prefect {args}: {out.stdout[-2000:]}{out.stderr}"
            return out.stdout

        cli("work-pool", "create", "gpu", "--type", "process")
        cli("deploy", "--all", "--no-prompt")
        listed = cli("deployment", "ls")
        for name in ("retrain-gpu", "retrain-cpu", "reevaluate"):
            assert name in listed
        worker_log = tmp_path / "worker.log"
        worker = subprocess.Popen([*PREFECT, "worker", "start", "--pool", "gpu", "--limit",
                                   "1"], env=env, cwd=elsewhere, stdout=worker_log.open("w"),
                                  stderr=subprocess.STDOUT, start_new_session=True)
        start = time.monotonic()
        watched = cli("deployment", "run", "retrain/retrain-gpu", "--watch",
                      "--watch-interval", "2", timeout=300)
        timings["run_to_completion_s"] = time.monotonic() - start
        assert "Completed" in watched, watched[-2000:] + worker_log.read_text()[-3000:]
    finally:
        _stop(worker)
        _stop(server)
    print("timings", json.dumps({k: round(v, 1) for k, v in timings.items()}))
    # the deployment's parameters and job variables reached the stages, in the repository
    record = json.loads((repo / "models/autoencoder.txt").read_text())
    assert (record["profile"], record["nproc"], record["cuda_visible_devices"]) == (
        "gpu", "1", "0")
    assert record["cwd"] == str(repo)
    assert (repo / "reports/registry.json").exists()
    assert any((tmp_path / "remote").rglob("*"))  # pushed
    assert server.poll() is not None and worker.poll() is not None
