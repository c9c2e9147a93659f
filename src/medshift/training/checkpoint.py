"""Resumable training state on disk: atomic writes, sha256 sidecars, corrupt files skipped.

Layout: ``{dir}/step-{step:07d}.pt`` plus ``.sha256``. The checkpoint is written to a
temporary file and renamed; the checksum is written last, so a file without a matching
checksum is incomplete or corrupt and is reported and skipped on resume.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(directory: Path, step: int, state: dict, keep: int = 2) -> Path:
    """Write ``state`` for ``step`` atomically; keep the newest ``keep`` checkpoints.

    Checkpoints past ``step`` are removed first: they belong to another run (the one being
    saved resumed from the newest matching checkpoint), and pruning by name would otherwise
    delete the checkpoint just written."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"step-{step:07d}.pt"
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    side = path.with_suffix(".sha256")
    tmp_side = side.with_name(f".{side.name}.tmp")
    tmp_side.write_text(_digest(path) + "\n")
    os.replace(tmp_side, side)
    for stale in sorted(directory.glob("step-*.pt")):
        if stale.name > path.name:
            stale.unlink(missing_ok=True)
            stale.with_suffix(".sha256").unlink(missing_ok=True)
    for old in sorted(directory.glob("step-*.pt"))[:-keep]:
        old.unlink(missing_ok=True)
        old.with_suffix(".sha256").unlink(missing_ok=True)
    return path


def load_latest(directory: Path, run_key: str | None = None) -> tuple[int, dict] | None:
    """Newest checkpoint whose checksum verifies, which loads and (with ``run_key``) was
    written by the same configuration and data; None if there is none."""
    for path in sorted(directory.glob("step-*.pt"), reverse=True):
        side = path.with_suffix(".sha256")
        if not side.exists() or side.read_text().strip() != _digest(path):
            log.warning("checkpoint %s is corrupt or incomplete (checksum mismatch); skipped",
                        path)
            print(f"warning: checkpoint {path} fails its checksum; skipped")
            continue
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:
            print(f"warning: checkpoint {path} does not load ({exc}); skipped")
            continue
        if run_key is not None and state.get("run_key") != run_key:
            print(f"note: checkpoint {path} is from another configuration or data set; "
                  "not resumed")
            continue
        return int(state["step"]), state
    return None
