"""The real velocity stage asked for 2 processes (as the retrain flow asks, through
MEDSHIFT_NPROC) re-executes itself under torchrun and still exports the packaged model."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from pipeline.launch import NPROC_ENV

from tests.integration.test_training_pipeline import REPO, _run, staged  # noqa: F401


@pytest.mark.slow
def test_velocity_stage_relaunches_under_torchrun(staged, monkeypatch):  # noqa: F811
    from pipeline import train_autoencoder

    monkeypatch.delenv(NPROC_ENV, raising=False)
    _run(train_autoencoder, monkeypatch)  # one process: relaunch is a no-op
    env = {**os.environ, NPROC_ENV: "2", "LOGLEVEL": "INFO", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    out = subprocess.run([sys.executable, "-m", "pipeline.train_velocity"], cwd=staged,
                         env=env, capture_output=True, text=True, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert re.search(r"entrypoint\s*:\s*pipeline\.train_velocity", log)
    assert re.search(r"nproc_per_node\s*:\s*2", log)
    assert (staged / "models/medshift").is_dir() and any((staged / "models/medshift").iterdir())
