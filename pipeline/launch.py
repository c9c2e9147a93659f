"""Multi-process training without a DVC param: re-exec a stage under torchrun on request.

The Prefect flow asks for N processes through the environment variable ``MEDSHIFT_NPROC``
(default 1). A training stage calls :func:`relaunch_under_torchrun` first thing; when N > 1
and the process is not already a torchrun rank, it replaces itself with
``python -m torch.distributed.run --standalone --nproc_per_node=N -m MODULE ARGS``.
The process count says where the work runs, not what is trained (the global batch is
``batch_size`` at any N), so it is kept out of params.yaml and dvc.lock; the dvc.yaml
command stays ``python -m pipeline.train_*`` and a manual ``torchrun`` still works.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

NPROC_ENV = "MEDSHIFT_NPROC"


def requested_nproc(env: Mapping[str, str]) -> int:
    """The process count asked for in ``env`` (1 when unset).

    Raises:
        SystemExit: the value is not an integer >= 1 (one line naming the variable).
    """
    raw = env.get(NPROC_ENV, "").strip() or "1"
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise SystemExit(f"{NPROC_ENV}={raw!r}: expected an integer >= 1 (processes per node)")
    return value


def torchrun_argv(module: str, args: Sequence[str], nproc: int) -> list[str]:
    """The command that runs ``python -m module args`` as ``nproc`` torchrun ranks."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", "-m", module, *args]


def relaunch_under_torchrun(module: str, env: Mapping[str, str] | None = None) -> None:
    """Replace this process by torchrun with ``MEDSHIFT_NPROC`` ranks when that is > 1.

    Returns (doing nothing) for one process or inside a torchrun rank (``RANK`` set), so the
    stage then runs as before. ``os.execv`` keeps the PID: DVC waits on torchrun itself.
    """
    env = os.environ if env is None else env
    nproc = requested_nproc(env)
    if nproc > 1 and "RANK" not in env:
        argv = torchrun_argv(module, sys.argv[1:], nproc)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(argv[0], argv)
