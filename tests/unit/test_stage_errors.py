"""Stage scripts: a params error or a missing input is one line and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pipeline.common import run_stage

from medshift.config.base import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_run_stage_turns_config_errors_into_one_line_and_status_2(capsys):
    def bad() -> None:
        raise ConfigError("params.velocity: unknown keys ['lrr']")

    with pytest.raises(SystemExit) as exit_info:
        run_stage("velocity", bad)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "velocity: error: params.velocity: unknown keys ['lrr']\n"


def test_run_stage_passes_main_status_through():
    with pytest.raises(SystemExit) as exit_info:
        run_stage("register", lambda: 1)
    assert exit_info.value.code == 1
    run_stage("register", lambda: 0)  # success: no exit


def test_a_misspelt_key_stops_the_stage_before_it_reads_data(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["velocity"]["lrr"] = 5e-4
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = subprocess.run([sys.executable, "-m", "pipeline.train_velocity", "--params",
                          str(tmp_path / "params.yaml"), "--out", str(tmp_path / "m")],
                         cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "MEDSHIFT_TRACKING": "off"})
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        out.stderr.strip()] and "params.velocity: unknown keys ['lrr']" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "m").exists()
