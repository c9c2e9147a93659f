"""Tiny MedShift exports and a tiny ingested data set for the registry, serving and
evaluation tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("syn_low", "syn_high", "real_low", "real_normal", "real_exposure")


def ingest_and_split(tmp: Path, params: dict) -> list[str]:
    """Write ``params`` to tmp/params.yaml and run `medshift ingest` and `split` into tmp
    (m.parquet, img/, s.parquet); returns the ``--params`` arguments."""
    import yaml

    from medshift.cli import main as cli

    (tmp / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    p = ["--params", str(tmp / "params.yaml")]
    assert cli(["ingest", *p, "--manifest", str(tmp / "m.parquet"), "--images",
                str(tmp / "img"), "--quarantine", str(tmp / "q.csv"), "--validation",
                str(tmp / "v.json"), "--quiet"]) == 0
    assert cli(["split", *p, "--manifest", str(tmp / "m.parquet"), "--out",
                str(tmp / "s.parquet"), "--validation", str(tmp / "sv.json"), "--summary",
                str(tmp / "ss.json")]) == 0
    return p


def tiny_export(path: Path, size: int = 32, seed: int = 0, broken: bool = False) -> Path:
    """An untrained MedShift export at ``size`` px (5 classes); ``broken``: NaN velocity."""
    from medshift.latents import LatentStats
    from medshift.models.autoencoder import KLAutoencoder
    from medshift.models.card import ModelCard
    from medshift.models.export import save_model
    from medshift.models.velocity import VelocityArchitecture, VelocitySpec, VelocityUNet

    from ..unit.training.images import small_spec

    torch.manual_seed(seed)
    ae = KLAutoencoder(small_spec(latent_channels=2)).eval()
    vel = VelocityUNet(VelocitySpec(3, len(CLASSES), VelocityArchitecture(16))).eval()
    torch.nn.init.normal_(vel.out[-1].weight, std=0.05)
    if broken:
        with torch.no_grad():
            vel.out[-1].weight.fill_(float("nan"))
    card = ModelCard(CLASSES, ae.spec, LatentStats((0.0,) * 3, (1.0,) * 3), size,
                     vel.spec.to_dict(), data_version="tiny")
    save_model(path, {"autoencoder": ae, "velocity": vel}, card)
    return path


def store_env(root: Path) -> dict[str, str]:
    """Environment of a process using a fresh store under ``root`` (never the repo's)."""
    inherited = {k: v for k, v in os.environ.items() if k != "MLFLOW_REGISTRY_URI"}
    return {**inherited, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
            "MLFLOW_ARTIFACT_ROOT": (root / "artifacts").as_uri(),
            "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1",
            "MEDSHIFT_TRACKING": "off", "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}


def register_cmd(data: Path, model: Path, out: Path) -> list[str]:
    """The register stage's command on the tiny data set (as dvc.yaml runs it)."""
    return [sys.executable, "-m", "pipeline.register", "--params", str(data / "params.yaml"),
            "--manifest", str(data / "m.parquet"), "--splits", str(data / "s.parquet"),
            "--images", str(data / "img"), "--simulated", str(data / "simulated"),
            "--reference", str(data / "reference.npz"), "--classifier",
            str(data / "classifier"), "--model", str(model), "--metrics",
            str(data / "no-metrics.json"), "--lock", str(data / "no-dvc.lock"), "--out",
            str(out)]


def run(cmd: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(uri: str, env: dict[str, str], startup: float = 120):
    """``mlflow models serve`` of ``uri`` on loopback; yields its base URL, always stops it
    (SIGTERM to its process group, then SIGKILL)."""
    import requests

    port = free_port()
    cmd = [str(Path(sys.executable).with_name("mlflow")), "models", "serve", "-m", uri,
           "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited: {proc.stderr.read()[-3000:]}")
            try:
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}/ping did not answer within {startup} s")
            time.sleep(0.5)
        yield url
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def register_tiny(root: Path, size: int = 128) -> Path:
    """A tiny ``size`` px export logged, registered as ``medshift`` v1 and promoted by hand
    (no gate: serving tests need no data set). Needs MLFLOW_* of ``store_env(root)``."""
    from pipeline import store
    from pipeline.register import log_version, served_params

    from medshift.config.register import RegisterConfig
    from medshift.config.translate import TranslateConfig
    from medshift.models.export import load_medshift

    export = tiny_export(root / "export", size=size)
    cfg = RegisterConfig()
    example = np.full((1, 1, size, size), 0.5, np.float32)
    c = store.client()
    version, _ = log_version(c, cfg, served_params(cfg, TranslateConfig()), export,
                             load_medshift(export), example, {"test": "tiny"}, {})
    store.promote(c, cfg.name, version.version, "test")
    return export
