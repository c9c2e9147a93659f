"""The registry lock: re-entrant within a process, exclusive across processes, bounded wait."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

HOLD = """
import fcntl, sys, time
fh = open(sys.argv[1], "a+")
fcntl.flock(fh, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_lock_is_reentrant_and_exclusive_across_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    from pipeline.store import lock_path, registry_lock

    assert lock_path() == tmp_path / "mlflow.db.lock"
    with registry_lock(timeout=1), registry_lock(timeout=1):  # nested: no self-deadlock
        pass
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_path()), "3"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        waited = []
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="held the lock for more than 1 s"), \
                registry_lock(timeout=1, on_wait=lambda: waited.append(1)):
            pass
        assert waited == [1] and time.monotonic() - start >= 1
        with registry_lock(timeout=30):  # free once the holder exits
            pass
    finally:
        holder.kill()
        holder.wait()
