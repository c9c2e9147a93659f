"""The Prefect flows under prefect_test_harness on a tiny DVC repository with the real
stage names: real `dvc repro` of real (tiny) commands; failures are injected only by the
stages themselves (tests/integration/tiny_repo.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.integration.tiny_repo import REPO, make_tiny_repo

RETRAIN_ORDER = ["ingest", "split", "autoencoder", "velocity", "translate",
                 "autoencoder_report", "evaluate", "register"]


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_tiny_repo(tmp_path_factory.mktemp("template") / "repo")


@pytest.fixture
def tiny(template, tmp_path, monkeypatch):
    """A fresh copy of the tiny repository; the test runs from an unrelated directory."""
    root = Path(shutil.copytree(template, tmp_path / "repo", symlinks=True))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return root


def _attempts(root: Path) -> list[str]:
    log = root / "attempts.log"
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def _task_runs(flow_run_id) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[flow_run_id])))
    return {run.name: run for run in runs}


def test_retrain_runs_each_stage_in_the_repository_then_pushes(harness, tiny, monkeypatch):
    from pipeline.flows import retrain

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # as the retrain-gpu deployment sets it
    state = retrain(profile="gpu", nproc=1, repo=str(tiny), return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert [r["stage"] for r in result["runs"]] == [*RETRAIN_ORDER, "push"]
    assert {r["cwd"] for r in result["runs"]} == {str(tiny)}
    # DVC ran the classifier as an upstream of autoencoder_report: the one DAG is DVC's
    assert _attempts(tiny) == ["ingest", "split", "autoencoder", "velocity", "translate",
                               "classifier", "autoencoder_report", "evaluate", "register"]
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=tiny,
                            capture_output=True, text=True, check=True)
    assert json.loads(status.stdout) == {}
    assert (tiny / "production.txt").exists()
    pushed = [p for p in (tiny.parent / "remote").rglob("*") if p.is_file()]
    assert len(pushed) == 6  # the six cached outputs (metrics-style ones are git's)
    # the profile is in params.yaml, hence in dvc.lock; nproc and the GPUs in the stage env
    lock = yaml.safe_load((tiny / "dvc.lock").read_text())
    assert lock["stages"]["ingest"]["params"]["params.yaml"]["profile"] == "gpu"
    record = json.loads((tiny / "models/autoencoder.txt").read_text())
    assert (record["profile"], record["nproc"], record["cuda_visible_devices"]) == (
        "gpu", "1", "0")


def test_a_failed_stage_is_retried_by_prefect(harness, tiny):
    from pipeline.flows import reevaluate

    (tiny / "fail/split").write_text("1")  # the first attempt fails, the second passes
    state = reevaluate(repo=str(tiny), return_state=True)
    assert state.is_completed(), state.message
    assert _attempts(tiny) == ["ingest", "split", "split"]
    runs = _task_runs(state.state_details.flow_run_id)
    assert runs["refresh-data: split"].run_count == 2
    assert runs["refresh-data: ingest"].run_count == 1
    assert all(run.state.is_completed() for run in runs.values())


def test_a_params_error_is_not_retried(harness, tiny):
    from pipeline.flows import retrain

    (tiny / "fail/evaluate").write_text("params")  # exit status 2: retrying cannot help
    state = retrain(repo=str(tiny), return_state=True)
    assert state.is_failed()
    assert "stage 'evaluate' exited with code 2" in state.message
    assert "params.evaluate: unknown keys" in state.message
    assert _attempts(tiny).count("evaluate") == 1 and "register" not in _attempts(tiny)


def test_a_stage_that_keeps_failing_fails_the_flow_and_leaves_production(harness, tiny):
    from pipeline.flows import retrain

    (tiny / "production.txt").write_text("previous")
    (tiny / "fail/evaluate").write_text("always")
    state = retrain(repo=str(tiny), return_state=True)
    assert state.is_failed()
    assert "stage 'evaluate' exited with code 1 (dvc: 255)" in state.message
    assert "injected failure in evaluate" in state.message  # the stderr tail
    assert _attempts(tiny).count("evaluate") == 2  # params: retries 1
    assert "register" not in _attempts(tiny)
    assert (tiny / "production.txt").read_text() == "previous"
    assert not (tiny / "reports/registry.json").exists()
    runs = _task_runs(state.state_details.flow_run_id)
    assert runs["evaluate: evaluate"].state.is_failed()
    assert not any(name.startswith(("register", "push")) for name in runs)


@pytest.mark.slow
def test_an_upstream_failure_names_the_dvc_stage(harness, tiny):
    from pipeline.flows import retrain

    (tiny / "fail/classifier").write_text("always")
    state = retrain(repo=str(tiny), push=False, return_state=True)
    assert state.is_failed()
    assert "stage 'autoencoder_report (DVC stage 'classifier')' exited with code 1" in \
        state.message
    assert "register" not in _attempts(tiny)


def test_too_many_processes_for_the_visible_gpus_is_refused(harness, tiny, monkeypatch):
    from pipeline.flows import retrain

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    state = retrain(profile="gpu", nproc=2, repo=str(tiny), return_state=True)
    assert state.is_failed() and "nproc=2 but CUDA_VISIBLE_DEVICES='0'" in state.message
    assert _attempts(tiny) == []  # refused before any stage ran


def test_a_missing_stage_is_refused_before_anything_runs(harness, tiny):
    from pipeline.flows import retrain

    spec = yaml.safe_load((tiny / "dvc.yaml").read_text())
    del spec["stages"]["register"]
    (tiny / "dvc.yaml").write_text(yaml.safe_dump(spec))
    state = retrain(repo=str(tiny), return_state=True)
    assert state.is_failed() and "no stage 'register'" in state.message
    assert _attempts(tiny) == []


def test_reevaluate_from_a_temporary_cwd_resolves_the_repository(harness, tiny, tmp_path):
    """The flow imported from the tiny repository's own copy of pipeline/, run in a fresh
    process whose working directory is elsewhere (as a process worker's temporary one)."""
    from prefect.settings import PREFECT_API_URL

    code = ("from pipeline.flows import reevaluate\n"
            "s = reevaluate(model='models:/medshift/3', return_state=True)\n"
            "print('STATE', s.name, s.result()['root'] if s.is_completed() else s.message)\n")
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
           "PREFECT_HOME": str(tmp_path / "prefect-home"),
           "PYTHONPATH": os.pathsep.join([str(tiny), str(REPO / "src")])}
    out = subprocess.run([sys.executable, "-c", code], cwd=Path.cwd(), env=env,
                         capture_output=True, text=True, timeout=180)
    assert f"STATE Completed {tiny}" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]
    call = json.loads((tiny / "reevaluated.json").read_text())
    assert call == {"argv": ["reevaluate", "--model", "models:/medshift/3"], "cwd": str(tiny)}
    assert _attempts(tiny) == ["ingest", "split"]  # refreshed, nothing retrained
    assert f"MLflow store sqlite:///{tiny / 'mlflow.db'}" in out.stdout + out.stderr


def test_the_command_line_runs_a_flow_and_reports_its_state(harness, tiny, capfd):
    from pipeline.flows import main

    assert main(["reevaluate", "--repo", str(tiny)]) == 0
    assert capfd.readouterr().out.strip().splitlines()[-1] == "reevaluate: Completed"
    (tiny / "raw.txt").write_text("raw data v2\n")  # new data: ingest runs again, and fails
    (tiny / "fail/ingest").write_text("always")
    assert main(["reevaluate", "--repo", str(tiny)]) == 1
    assert "reevaluate: Failed: Flow run encountered an exception: StageFailed: stage " \
        "'ingest' exited with code 1" in capfd.readouterr().out


def test_a_terminated_flow_run_crashes_and_leaves_no_stage_running(harness, tmp_path):
    """A worker cancels a run with SIGTERM: the run ends Crashed, not Completed, and the
    stage's process tree (started in its own session) is killed with it."""
    from prefect.settings import PREFECT_API_URL

    pidfile = tmp_path / "child.pid"
    stage = ("import subprocess, time; c = subprocess.Popen(['sleep', '300']); "
             f"open({str(pidfile)!r}, 'w').write(str(c.pid)); time.sleep(300)")
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\nfrom prefect import flow\nfrom pipeline.flows import run_stage\n"
        "@flow(name='sleepy')\ndef sleepy():\n"
        f"    run_stage('train', 'velocity', [sys.executable, '-c', {stage!r}], "
        f"{str(tmp_path)!r}, 1, 600.0, 5)\n"
        "state = sleepy(return_state=True)\nprint('STATE', state.name, flush=True)\n")
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
           "PREFECT_HOME": str(tmp_path / "prefect-home"),
           "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while not pidfile.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert pidfile.exists(), proc.communicate(timeout=30)[0][-3000:]
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Finished in state Crashed" in out, out[-3000:]
    assert "Completed" not in out
    child = Path(f"/proc/{pidfile.read_text()}")
    assert not child.exists() or " Z " in (child / "stat").read_text(), "stage survived"
