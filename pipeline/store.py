"""The MLflow model registry's state, and the one lock that serialises changes to it.

Promotion is aliases (``production``, ``challenger``), never the deprecated stages. The
production history (for rollback) is a registered-model tag, ``production_history``: a JSON
list of versions, newest last. Every change to a registered model (store creation, a new
version, an alias, the history) happens under ``registry_lock``: an exclusive ``flock`` on a
file next to the SQLite store. It serialises both the fresh store's schema creation (two
processes migrating one SQLite file at once fail with "table already exists" or "database is
locked") and the gate's read-compare-promote, so a decision is always taken against the
production version that is current when the alias moves.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pipeline.tracking import EXPERIMENT, REPO, tracking_uri

PRODUCTION, CHALLENGER = "production", "challenger"
HISTORY_TAG = "production_history"
_held = 0  # depth of registry_lock in this process (flock is not re-entrant across files)


def quiet() -> None:
    """Telemetry off before mlflow is imported (no DNS lookups, offline runs); no download
    bars, no type-hint advice (the signature is explicit)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")


def lock_path() -> Path:
    """The lock file: next to a SQLite store, else in the repository."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        return db.with_name(db.name + ".lock")
    return REPO / ".mlflow-registry.lock"


@contextmanager
def registry_lock(timeout: float = 900.0, on_wait=None) -> Iterator[None]:
    """Hold the registry lock (re-entrant within a process).

    Args:
        timeout: seconds to wait for another process before giving up.
        on_wait: called once with no arguments if another process holds the lock.

    Raises:
        TimeoutError: the lock stayed taken for ``timeout`` seconds.
    """
    global _held
    if _held:
        _held += 1
        try:
            yield
        finally:
            _held -= 1
        return
    path = lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        deadline, told = time.monotonic() + timeout, False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and on_wait is not None:
                    on_wait()
                told = True
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path}: another registry change held the lock for "
                                       f"more than {timeout:.0f} s") from None
                time.sleep(0.2)
        _held = 1
        try:
            yield
        finally:
            _held = 0
            fcntl.flock(fh, fcntl.LOCK_UN)


def client():
    """An MlflowClient on the project's store (created, with its experiment, under the
    lock, so parallel first uses never race on the schema)."""
    quiet()
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri())  # the registry follows it (no registry URI set)
    with registry_lock():
        c = MlflowClient()
        if c.get_experiment_by_name(EXPERIMENT) is None:
            artifacts = os.environ.get("MLFLOW_ARTIFACT_ROOT") or (REPO / "mlartifacts").as_uri()
            c.create_experiment(EXPERIMENT, artifact_location=artifacts)
        c.search_registered_models(max_results=1)  # creates the registry tables
    return c


def by_alias(c, name: str, alias: str):
    """The ModelVersion an alias points to, or None (no such model or alias)."""
    from mlflow.exceptions import MlflowException

    try:
        return c.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def history(c, name: str) -> list[str]:
    """Production versions, oldest first (the rollback order)."""
    tags = c.get_registered_model(name).tags
    return json.loads(tags.get(HISTORY_TAG, "[]"))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def promote(c, name: str, version: str, reason: str) -> None:
    """Move ``production`` to ``version`` and record why (call under registry_lock)."""
    c.set_registered_model_alias(name, PRODUCTION, version)
    if (ch := by_alias(c, name, CHALLENGER)) is not None and str(ch.version) == str(version):
        c.delete_registered_model_alias(name, CHALLENGER)
    past = [v for v in history(c, name) if v != str(version)] + [str(version)]
    c.set_registered_model_tag(name, HISTORY_TAG, json.dumps(past))
    for key, value in {"decision": PRODUCTION, "promoted_at": now(),
                       "promotion_reason": reason}.items():
        c.set_model_version_tag(name, version, key, value)


def challenge(c, name: str, version: str, reasons: dict[str, str]) -> None:
    """Alias ``challenger`` on ``version`` with a ``gate.<key>`` tag per failed reason."""
    c.set_registered_model_alias(name, CHALLENGER, version)
    c.set_model_version_tag(name, version, "decision", CHALLENGER)
    for key, text in reasons.items():
        c.set_model_version_tag(name, version, f"gate.{key}", text[:5000])


def rollback(c, name: str) -> tuple[str, str]:
    """Production back to the previous production version: (from, to).

    Raises:
        ValueError: no earlier production version to return to.
    """
    past = history(c, name)
    current = by_alias(c, name, PRODUCTION)
    if current is None or len(past) < 2 or past[-1] != str(current.version):
        raise ValueError(f"{name}: no previous production version to roll back to "
                         f"(history {past or 'empty'})")
    c.set_registered_model_alias(name, PRODUCTION, past[-2])
    c.set_registered_model_tag(name, HISTORY_TAG, json.dumps(past[:-1]))
    c.set_model_version_tag(name, current.version, "rolled_back_at", now())
    c.set_model_version_tag(name, current.version, "decision", "rolled_back")
    return str(current.version), past[-2]


def download_export(name: str, version: str) -> Path:
    """The MedShift export directory logged with ``name`` version ``version``, local.

    Downloads once per logged model (its id names the folder, under the system's temporary
    directory), atomically, so repeated loads and parallel processes share one copy.
    """
    quiet()
    import shutil

    import mlflow
    import yaml

    mlflow.set_tracking_uri(tracking_uri())
    source = str(mlflow.tracking.MlflowClient().get_model_version(name, version).source)
    cache = Path(tempfile.gettempdir()) / "medshift-models"
    local = cache / source.rsplit("/", 1)[-1]
    if not (local / "MLmodel").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
        mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}",
                                            dst_path=str(tmp))
        try:
            tmp.rename(local)
        except OSError:  # another process finished first: keep its copy
            shutil.rmtree(tmp, ignore_errors=True)
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
    return local / flavor["artifacts"]["export"]["path"]
