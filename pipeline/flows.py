"""Prefect flows: scheduled retraining and re-evaluation, each task one `dvc repro STAGE`.

    python -m pipeline.flows retrain [--profile gpu] [--nproc N] [--no-push] [--repo DIR]
    python -m pipeline.flows reevaluate [--model models:/medshift@production] [--repo DIR]

Deployments (work pool ``gpu``, weekly schedule) are in prefect.yaml at the repository root.
DVC stays the one DAG and cache: a task runs its stage as a subprocess in the repository
(resolved from this file, never the working directory, which a process worker sets to a
temporary folder), DVC skips what is up to date, and a stage that exits non-zero fails its
task, which Prefect retries (params.orchestration). Tasks run one after another and an
exception stops the flow, so a stage that keeps failing leaves every later stage unrun:
``register`` never moves ``production``, and the flow ends Failed naming the stage and the
tail of its stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipeline.orchestration.commands import (
    StageFailed,
    StageRun,
    dvc_argv,
    run_command,
    stage_env,
)
from pipeline.orchestration.workspace import (
    check_devices,
    orchestration_config,
    require_stages,
    resolve_root,
    set_profile,
)
from pipeline.tracking import tracking_uri

# (task group, DVC stages) in order; `dvc repro STAGE` also runs whatever upstream changed
REFRESH = ("ingest", "split")
RETRAIN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("refresh-data", REFRESH),
    ("train", ("autoencoder", "velocity")),
    ("translate", ("translate",)),
    ("evaluate", ("autoencoder_report", "evaluate")),
    ("register-and-promote", ("register",)),
)
REEVALUATE_MODULE = "pipeline.registry"


@task(cache_policy=NO_CACHE, task_run_name="{group}: {name}")
def run_stage(group: str, name: str, argv: list[str], root: str, nproc: int,
              timeout_s: float, tail_lines: int) -> dict:
    """Run one pipeline command in ``root``; raises StageFailed (and Prefect retries)."""
    logger = get_run_logger()
    run: StageRun = run_command(name, argv, Path(root), stage_env(os.environ, nproc),
                                timeout_s, tail_lines, on_line=logger.info)
    logger.info("%s finished in %.1f s", name, run.seconds)
    return run.to_dict()


def _retryable(task, task_run, state) -> bool:
    """Retry a failed stage unless it exited with status 2 (bad usage or params)."""
    try:
        state.result()
    except StageFailed as exc:
        return exc.retryable
    except Exception:
        return True
    return True


def _runner(root: Path):
    """``run_stage`` with the retries and timeout of ``root``'s params.orchestration."""
    cfg = orchestration_config(root)
    configured = run_stage.with_options(retries=cfg.retries,
                                        retry_delay_seconds=cfg.retry_delay_s,
                                        retry_condition_fn=_retryable)

    def run(group: str, name: str, argv: list[str], nproc: int = 1) -> dict:
        return configured(group, name, argv, str(root), nproc, cfg.timeout_s,
                          cfg.stderr_lines)

    return run, cfg


def _cuda_devices() -> int:
    """CUDA devices torch sees in this process (0 on a CPU-only machine)."""
    import torch

    return torch.cuda.device_count()


def _announce(root: Path) -> None:
    get_run_logger().info("repository %s, params %s, MLflow store %s, cwd %s", root,
                          root / "params.yaml", tracking_uri(), Path.cwd())


@flow(name="retrain", log_prints=True)
def retrain(profile: str | None = None, nproc: int = 1, push: bool = True,
            repo: str | None = None) -> dict:
    """Refresh data, train, translate, evaluate, register-and-promote, push to the remote.

    Args:
        profile: params profile written into params.yaml before the first stage (``gpu``
            merges profiles/gpu.yaml); None keeps the file's.
        nproc: torchrun processes per training stage (pipeline.launch); at most one per
            device in CUDA_VISIBLE_DEVICES when that is set.
        push: ``dvc push`` data and models to the remote at the end.
        repo: the DVC repository; None: the checkout holding this file.

    Returns:
        dict: root, profile, nproc and each command's StageRun (name, seconds).

    Raises:
        StageFailed: a stage kept failing; no later stage ran.
        ConfigError: a bad profile, nproc or params.orchestration, or a missing stage.
    """
    root = resolve_root(repo)
    _announce(root)
    check_devices(nproc, os.environ, profile, _cuda_devices())
    require_stages(root, [s for _, stages in RETRAIN for s in stages])
    if profile is not None and set_profile(root / "params.yaml", profile):
        get_run_logger().info("params.yaml: profile set to %s", profile)
    run, cfg = _runner(root)
    runs = [run(group, stage, dvc_argv("repro", stage), nproc)
            for group, stages in RETRAIN for stage in stages]
    if push:
        remote = ["-r", cfg.remote] if cfg.remote else []
        runs.append(run("push", "push", dvc_argv("push", *remote)))
    return {"root": str(root), "profile": profile, "nproc": nproc, "runs": runs}


@flow(name="reevaluate", log_prints=True)
def reevaluate(model: str | None = None, repo: str | None = None) -> dict:
    """Refresh data (ingest + split), then score the production model on the current test
    split and record it in MLflow (``python -m pipeline.registry reevaluate``); no training.

    Args:
        model: a model URI (default: the registry's production alias).
        repo: the DVC repository; None: the checkout holding this file.

    Raises:
        StageFailed: a stage or the re-evaluation kept failing.
    """
    root = resolve_root(repo)
    _announce(root)
    require_stages(root, REFRESH)
    run, _ = _runner(root)
    runs = [run("refresh-data", stage, dvc_argv("repro", stage)) for stage in REFRESH]
    command = [sys.executable, "-m", REEVALUATE_MODULE, "reevaluate",
               *(["--model", model] if model else [])]
    runs.append(run("reevaluate", "reevaluate", command))
    return {"root": str(root), "model": model, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.flows retrain|reevaluate`` without a server (ephemeral API)."""
    p = argparse.ArgumentParser(description="Run a MedShift Prefect flow once, here.")
    sub = p.add_subparsers(dest="flow", required=True)
    r = sub.add_parser("retrain", help="refresh, train, translate, evaluate, register, push")
    r.add_argument("--profile", default=None, help="params profile to select (cpu, gpu)")
    r.add_argument("--nproc", type=int, default=1, help="torchrun processes per training")
    r.add_argument("--no-push", action="store_true", help="skip `dvc push`")
    e = sub.add_parser("reevaluate", help="refresh data, re-score the production model")
    e.add_argument("--model", default=None, help="model URI (default: production)")
    for command in (r, e):
        command.add_argument("--repo", default=None, help="DVC repository (default: this one)")
    args = p.parse_args(argv)
    if args.flow == "retrain":
        state = retrain(profile=args.profile, nproc=args.nproc, push=not args.no_push,
                        repo=args.repo, return_state=True)
    else:
        state = reevaluate(model=args.model, repo=args.repo, return_state=True)
    print(f"{args.flow}: {state.name}: {state.message or ''}".rstrip(": "))
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main())
