"""Reading the translate stage's output: ``index.parquet`` plus uint16 .npy stacks.

Contract (one row per translated image): image_id (the SOURCE image's manifest id), source
and target (class ids), method ("medshift" | "sdedit"), tau, solver, nfe, guidance, seconds
(wall time per image), file (a .npy under the translations folder, uint16 (N, H, W),
value / 65535 = intensity in [0, 1], bone bright) and row (index into that file's first
axis).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

INDEX_COLUMNS = ("image_id", "source", "target", "method", "tau", "solver", "nfe", "guidance",
                 "seconds", "file", "row")


class TranslationsError(ValueError):
    """The translations folder or its index cannot be used at all."""


@dataclass(frozen=True)
class Translations:
    """The usable index rows and their images (N, 1, H, W) float32 in [0, 1], aligned."""

    index: pd.DataFrame
    images: np.ndarray
    skipped: tuple[str, ...]  # one line per file or row left out, with the reason


def load_translations(folder: Path | str, size: int) -> Translations:
    """Read the index and every image it names; a bad file costs only its own rows.

    Args:
        folder: the translations folder (holds index.parquet).
        size: the working size; stacks of another size are skipped.

    Raises:
        TranslationsError: no readable index, or it lacks contract columns.
    """
    folder = Path(folder)
    try:
        index = pd.read_parquet(folder / "index.parquet")
    except (OSError, ValueError) as exc:
        raise TranslationsError(f"{folder / 'index.parquet'}: unreadable index "
                                f"({type(exc).__name__}: {exc})") from exc
    missing = [c for c in INDEX_COLUMNS if c not in index.columns]
    if missing:
        raise TranslationsError(f"{folder / 'index.parquet'}: missing columns {missing}")
    keep, images, skipped = [], [], []
    for file, rows in index.groupby("file", sort=True):
        stack, reason = _read_stack(folder / str(file), size)
        if stack is None:
            skipped.append(f"{folder / str(file)}: {reason}; its {len(rows)} rows skipped")
            continue
        valid = (rows["row"] >= 0) & (rows["row"] < len(stack))
        if not valid.all():
            skipped.append(f"{folder / str(file)}: {int((~valid).sum())} rows point past its "
                           f"{len(stack)} images; skipped")
        rows = rows[valid]
        keep.append(rows)
        images.append(stack[rows["row"].to_numpy()])
    if not keep:
        raise TranslationsError(f"{folder}: no readable translation file "
                                f"({'; '.join(skipped) or 'empty index'})")
    order = pd.concat(keep)
    stacked = np.concatenate(images).astype(np.float32)[:, None] / 65535.0
    perm = np.argsort(order.index.to_numpy(), kind="stable")  # back to index order
    return Translations(order.iloc[perm].reset_index(drop=True), stacked[perm], tuple(skipped))


def _read_stack(path: Path, size: int) -> tuple[np.ndarray | None, str]:
    try:
        stack = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        return None, f"unreadable ({type(exc).__name__}: {exc})"
    if stack.dtype != np.uint16 or stack.ndim != 3 or stack.shape[1:] != (size, size):
        return None, (f"expected uint16 (N, {size}, {size}), got {stack.dtype} "
                      f"{tuple(stack.shape)}")
    return np.asarray(stack), ""
