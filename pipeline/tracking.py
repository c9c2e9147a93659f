"""MLflow at the edge (the only module that imports mlflow).

Tracking URI: $MLFLOW_TRACKING_URI, else an absolute SQLite file and artifact folder inside
the repository (git-ignored), so DVC stages, Prefect workers and tests agree on one store.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = "medshift"


def _quiet() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{REPO / 'mlflow.db'}"


def flatten(values: dict, prefix: str = "") -> dict[str, str]:
    """{"a": {"b": 1}} -> {"a.b": "1"} (lists kept as text)."""
    out = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = str(value)
    return out


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


class RunSink:
    """What training reports to: metrics per step, images and files as artifacts."""

    def __init__(self, mlflow_module) -> None:
        self._mlflow = mlflow_module

    def metrics(self, step: int, values: dict[str, float], prefix: str = "") -> None:
        self._mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in values.items()},
                                 step=step)

    def figure(self, fig, name: str) -> None:
        self._mlflow.log_figure(fig, name)

    def artifact(self, path: Path, folder: str | None = None) -> None:
        self._mlflow.log_artifact(str(path), artifact_path=folder)

    def dictionary(self, values: dict, name: str) -> None:
        self._mlflow.log_dict(values, name)


@contextmanager
def start_run(run_name: str, params: dict, tags: dict):
    """Open an MLflow run with flattened params and tags; yields a RunSink."""
    _quiet()
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri())
    client = MlflowClient()
    if client.get_experiment_by_name(EXPERIMENT) is None:
        artifacts = os.environ.get("MLFLOW_ARTIFACT_ROOT") or (REPO / "mlartifacts").as_uri()
        client.create_experiment(EXPERIMENT, artifact_location=artifacts)
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=run_name):
        mlflow.log_params(flatten(params))
        mlflow.set_tags({"git_commit": git_commit(), **tags})
        yield RunSink(mlflow)
