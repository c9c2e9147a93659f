"""One pipeline command as a subprocess of the repository root, bounded in time.

DVC stays the one DAG and cache: the flows never call stage code, they run
``python -m dvc repro STAGE`` (or ``dvc push``, or the registry CLI) and read its exit code.
The interpreter is the flow's own (``sys.executable``), and its folder leads ``PATH``, so the
``python`` in dvc.yaml commands is the flow's environment wherever a worker was started.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.launch import NPROC_ENV

_DVC_FAILED = re.compile(r"failed to reproduce '([^']+)'")
_DVC_EXIT = re.compile(r"failed to run: .*, exited with (-?\d+)\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_KILL_GRACE_S = 10.0


class StageFailed(RuntimeError):
    """A stage command exited non-zero, was killed, or ran past its timeout.

    Attributes:
        stage: the stage (or command) name the flow ran.
        reason: why, in a phrase ("exited with code 1", "timed out after 5 s").
        tail: the last lines of its stderr.
        code: the command's own exit status (the stage's, under ``dvc repro``), or None
            after a signal or the timeout; 2 is a usage or params error, never retried.
    """

    def __init__(self, stage: str, reason: str, tail: str, code: int | None = None) -> None:
        self.stage, self.reason, self.tail, self.code = stage, reason, tail, code
        super().__init__(f"stage '{stage}' {reason}; stderr tail:\n{tail}" if tail
                         else f"stage '{stage}' {reason} (no stderr)")

    def __reduce__(self):  # picklable with its three fields (Prefect stores exceptions)
        return (StageFailed, (self.stage, self.reason, self.tail, self.code))

    @property
    def retryable(self) -> bool:
        """False for exit status 2 (bad usage or params): a retry would fail the same way."""
        return self.code != 2


@dataclass(frozen=True)
class StageRun:
    """A finished, successful command: what ran, where, and for how long (seconds)."""

    stage: str
    command: tuple[str, ...]
    cwd: str
    seconds: float

    def to_dict(self) -> dict:
        """Plain data (the flow's return value)."""
        return {**asdict(self), "command": list(self.command)}


def dvc_argv(*args: str) -> list[str]:
    """``python -m dvc ARGS`` with the flow's interpreter (the worker's PATH may differ)."""
    return [sys.executable, "-m", "dvc", *args]


def stage_env(base: Mapping[str, str], nproc: int = 1) -> dict[str, str]:
    """The environment of a stage command: ``base`` plus the process count for
    pipeline.launch, the flow's interpreter first on PATH and DVC analytics off."""
    env = dict(base)
    env[NPROC_ENV] = str(int(nproc))
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bindir, *[p for p in env.get("PATH", "").split(os.pathsep)
                                             if p and p != bindir]])
    env.setdefault("DVC_NO_ANALYTICS", "1")
    return env


def _pump(stream, sink: Callable[[str], None], keep: deque[str] | None) -> None:
    for line in iter(stream.readline, ""):
        line = line.rstrip("\n")
        sink(line)
        if keep is not None:
            keep.append(line)
    stream.close()


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGTERM then SIGKILL to the command's process group (dvc, its stage, torchrun ranks)."""
    for sig, wait_s in ((signal.SIGTERM, _KILL_GRACE_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _reported_code(tail: list[str]) -> int | None:
    """The stage command's own exit status when DVC reports it in ``tail``, else None."""
    stage_codes = [m.group(1) for line in tail for m in [_DVC_EXIT.search(line)] if m]
    return int(stage_codes[-1]) if stage_codes else None


def _signal_name(number: int) -> str:
    try:
        return f"was killed by {signal.Signals(number).name}"
    except ValueError:
        return f"was killed by signal {number}"


def _failed_stage(stage: str, tail: list[str]) -> str:
    """``stage``, plus the upstream stage DVC names when that is the one that failed."""
    names = [m.group(1) for line in tail for m in [_DVC_FAILED.search(line)] if m]
    return f"{stage} (DVC stage '{names[-1]}')" if names and names[-1] != stage else stage


def run_command(stage: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str],
                timeout_s: float, tail_lines: int = 20,
                on_line: Callable[[str], None] | None = None) -> StageRun:
    """Run ``argv`` in ``cwd`` and wait for it, at most ``timeout_s`` seconds.

    The command gets its own process group, so a timeout (or an interrupt of the flow
    process) kills everything it started, torchrun ranks included. Its stdout and stderr
    lines go to ``on_line`` as they come.

    Returns:
        StageRun: when the command exits with code 0.

    Raises:
        StageFailed: non-zero exit, death by a signal, or the timeout; the message names
            ``stage`` (and the upstream DVC stage that failed, if another) and holds the
            last ``tail_lines`` lines of stderr.
    """
    sink = on_line or (lambda _line: None)
    tail: deque[str] = deque(maxlen=tail_lines)
    start = time.monotonic()
    proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace",
                            start_new_session=True)
    readers = [threading.Thread(target=_pump, args=(proc.stdout, sink, None), daemon=True),
               threading.Thread(target=_pump, args=(proc.stderr, sink, tail), daemon=True)]
    for reader in readers:
        reader.start()
    reason = None
    try:
        code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        reason = f"timed out after {timeout_s:g} s (process tree killed)"
    except BaseException:  # the flow was cancelled or interrupted: leave no stage running
        _kill_tree(proc)
        raise
    for reader in readers:
        reader.join(timeout=5.0)
    lines = [_ANSI.sub("", line) for line in tail]  # warnings' colour codes
    own = None
    if reason is None and code < 0:
        reason = _signal_name(-code)
    elif reason is None and code > 0:
        reported = _reported_code(lines)
        own = code if reported is None else reported
        reason = f"exited with code {own}" + ("" if reported is None else f" (dvc: {code})")
    if reason is not None:
        raise StageFailed(_failed_stage(stage, lines), reason, "\n".join(lines), own)
    return StageRun(stage, tuple(argv), str(cwd), round(time.monotonic() - start, 3))
