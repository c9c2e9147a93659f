"""The orchestration helpers without Prefect: the stage runner (exit codes, stderr tail,
timeouts that kill the whole process tree), the profile switch, the device check, the
torchrun re-exec, and the flows' stage list against dvc.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from pipeline.launch import NPROC_ENV, relaunch_under_torchrun, requested_nproc, torchrun_argv
from pipeline.orchestration.commands import StageFailed, run_command, stage_env
from pipeline.orchestration.workspace import REPO, check_devices, resolve_root, set_profile

from medshift.config.base import ConfigError

PY = sys.executable


def _run(tmp_path, code: str, timeout_s: float = 30, tail: int = 3):
    return run_command("velocity", [PY, "-c", textwrap.dedent(code)], tmp_path,
                       stage_env(os.environ), timeout_s, tail)


def test_a_zero_exit_returns_the_run_and_streams_lines(tmp_path):
    lines: list[str] = []
    run = run_command("split", [PY, "-c", "import os; print(os.getcwd())"], tmp_path,
                      stage_env(os.environ), 30, on_line=lines.append)
    assert run.stage == "split" and run.cwd == str(tmp_path) and lines == [str(tmp_path)]


def test_a_non_zero_exit_names_the_stage_code_and_stderr_tail(tmp_path):
    with pytest.raises(StageFailed) as err:
        _run(tmp_path, """
            import sys
            for k in range(6):
                print(f"line {k}", file=sys.stderr)
            sys.exit(3)""")
    assert err.value.stage == "velocity" and err.value.reason == "exited with code 3"
    assert err.value.tail == "line 3\nline 4\nline 5"  # the last 3 lines only
    assert str(err.value).startswith("stage 'velocity' exited with code 3; stderr tail:")


def test_a_signal_death_is_a_failure(tmp_path):
    with pytest.raises(StageFailed, match="killed by SIGKILL"):
        _run(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")


def test_a_timeout_kills_the_whole_process_tree(tmp_path):
    pidfile = tmp_path / "child.pid"
    start = time.monotonic()
    with pytest.raises(StageFailed, match=r"timed out after 1\.5 s"):
        _run(tmp_path, f"""
            import subprocess, time
            child = subprocess.Popen(["sleep", "60"])
            open({str(pidfile)!r}, "w").write(str(child.pid))
            time.sleep(60)""", timeout_s=1.5)
    assert time.monotonic() - start < 20
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        if "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]:
            break  # a zombie waiting for its (killed) parent's reaper: it is dead
        time.sleep(0.1)
    alive = Path(f"/proc/{child}").exists() and "Z" not in Path(
        f"/proc/{child}/stat").read_text().split()[2]
    assert not alive, "the stage's child process survived the timeout"


def test_the_upstream_stage_dvc_names_is_reported(tmp_path):
    with pytest.raises(StageFailed) as err:
        _run(tmp_path, """
            import sys
            print("ERROR: failed to reproduce 'classifier': failed to run: python -m x, "
                  "exited with 1", file=sys.stderr)
            sys.exit(1)""")
    assert err.value.stage == "velocity (DVC stage 'classifier')"
    assert err.value.reason == "exited with code 1 (dvc: 1)"


def test_stage_env_puts_the_flows_interpreter_first_and_the_process_count():
    env = stage_env({"PATH": "/usr/bin"}, nproc=4)
    assert env["PATH"].split(os.pathsep)[0] == str(Path(PY).parent)
    assert env[NPROC_ENV] == "4" and env["DVC_NO_ANALYTICS"] == "1"


def test_set_profile_changes_one_line_and_keeps_comments(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles/gpu.yaml").write_text("velocity: {steps: 9}\n")
    params = tmp_path / "params.yaml"
    params.write_text("# top\nprofile: cpu   # the default\nvelocity:\n  steps: 1  # x\n")
    assert set_profile(params, "gpu") is True
    assert params.read_text() == (
        "# top\nprofile: gpu   # the default\nvelocity:\n  steps: 1  # x\n")
    assert set_profile(params, "gpu") is False
    with pytest.raises(ConfigError, match=r"no .*profiles/tpu\.yaml"):
        set_profile(params, "tpu")
    with pytest.raises(ConfigError, match="expected a name"):
        set_profile(params, "gpu\nvelocity: 3")
    assert yaml.safe_load(params.read_text())["profile"] == "gpu"


def test_check_devices_allows_one_process_per_visible_gpu():
    check_devices(2, {"CUDA_VISIBLE_DEVICES": "0,1"})
    check_devices(8, {})  # nothing visible-restricted: torchrun decides
    check_devices(2, {}, "cpu", cuda_devices=0)  # gloo ranks on the CPU
    check_devices(2, {}, "gpu", cuda_devices=2)
    with pytest.raises(ConfigError, match="profile gpu but torch sees no CUDA device"):
        check_devices(1, {}, "gpu", cuda_devices=0)
    with pytest.raises(ConfigError, match="nproc=3 but torch sees 2 CUDA device"):
        check_devices(3, {}, "gpu", cuda_devices=2)
    with pytest.raises(ConfigError, match="nproc=3 but CUDA_VISIBLE_DEVICES='0,1'"):
        check_devices(3, {"CUDA_VISIBLE_DEVICES": "0,1"})
    with pytest.raises(ConfigError, match="nproc=0"):
        check_devices(0, {})


def test_resolve_root_is_the_checkout_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_root() == REPO == Path(__file__).resolve().parents[2]
    with pytest.raises(FileNotFoundError, match=r"no dvc\.yaml"):
        resolve_root(tmp_path)


def test_requested_nproc_and_torchrun_command():
    assert requested_nproc({}) == 1 and requested_nproc({NPROC_ENV: "3"}) == 3
    for bad in ("0", "two", "-1"):
        with pytest.raises(SystemExit, match=f"{NPROC_ENV}="):
            requested_nproc({NPROC_ENV: bad})
    assert torchrun_argv("pipeline.train_velocity", ["--out", "m"], 2) == [
        PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
        "pipeline.train_velocity", "--out", "m"]


def test_relaunch_is_a_no_op_for_one_process_or_inside_a_rank():
    relaunch_under_torchrun("x", {NPROC_ENV: "1"})
    relaunch_under_torchrun("x", {NPROC_ENV: "2", "RANK": "0"})  # would exec otherwise


def test_relaunch_runs_the_module_as_torchrun_ranks(tmp_path):
    (tmp_path / "rankprobe.py").write_text(textwrap.dedent("""
        import os
        from pipeline.launch import relaunch_under_torchrun
        relaunch_under_torchrun("rankprobe")
        # one file per rank: two ranks' prints on one pipe can interleave mid-line
        with open(f"rank{os.environ['RANK']}.txt", "w") as fh:
            fh.write(f"rank {os.environ['RANK']} of {os.environ['WORLD_SIZE']}")
    """))
    env = {**os.environ, NPROC_ENV: "2", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    out = subprocess.run([PY, "-m", "rankprobe"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert sorted(p.read_text() for p in tmp_path.glob("rank*.txt")) == [
        "rank 0 of 2", "rank 1 of 2"]
