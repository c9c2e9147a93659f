"""On-disk translations: one uint16 array per (method, tau, source, target) group + an index.

Layout under the translations directory::

    index.parquet                 image_id, source, target, method, tau, solver, nfe,
                                  guidance, seconds, file, row
    {method}/tau{tau:.2f}/{source}__{target}.npy    (N, H, W) uint16, value / 65535 in [0, 1]

``image_id`` is the source image's manifest id (the join key every artifact carries);
``seconds`` is the group's wall time divided by its images.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

INDEX = "index.parquet"
COLUMNS = ("image_id", "source", "target", "method", "tau", "solver", "nfe", "guidance",
           "seconds", "file", "row")


def to_uint16(images: np.ndarray) -> np.ndarray:
    """(N, 1, H, W) or (N, H, W) float in [0, 1] -> (N, H, W) uint16 (1/65535 steps)."""
    x = np.asarray(images, dtype=np.float64).reshape(len(images), *images.shape[-2:])
    return np.round(np.clip(x, 0.0, 1.0) * 65535.0).astype(np.uint16)


def group_file(method: str, tau: float, source: str, target: str) -> str:
    """Relative path of one group's array."""
    return f"{method}/tau{tau:.2f}/{source}__{target}.npy"


def write_group(directory: Path, relative: str, images: np.ndarray) -> None:
    """Atomically write one group's images ((N, 1, H, W) float in [0, 1]) as uint16."""
    path = Path(directory) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, to_uint16(images))
    os.replace(tmp, path)


def write_index(directory: Path, rows: list[dict]) -> pd.DataFrame:
    """Atomically write the index of every group (columns ``COLUMNS``)."""
    index = pd.DataFrame(rows, columns=list(COLUMNS))
    tmp = Path(directory) / f".{INDEX}.tmp"
    index.to_parquet(tmp, index=False)
    os.replace(tmp, Path(directory) / INDEX)
    return index


def read_index(directory: Path | str) -> pd.DataFrame:
    """The index of a translations directory.

    Raises:
        FileNotFoundError: no index.parquet there (the message says which stage writes it).
    """
    path = Path(directory) / INDEX
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {INDEX} (run the translate stage first)")
    return pd.read_parquet(path)


def load_images(directory: Path | str, rows: pd.DataFrame) -> np.ndarray:
    """The images of index ``rows``, in row order: (N, 1, H, W) float32 in [0, 1].

    Each group file is read once, memory-mapped.
    """
    out: np.ndarray | None = None
    for file, part in rows.reset_index(drop=True).groupby("file", sort=False):
        data = np.load(Path(directory) / file, mmap_mode="r")
        if out is None:
            out = np.empty((len(rows), 1, *data.shape[-2:]), dtype=np.float32)
        out[part.index.to_numpy(), 0] = data[part["row"].to_numpy()] / np.float32(65535.0)
    return np.empty((0, 1, 0, 0), np.float32) if out is None else out
