"""Atomic writers: a temporary file in the target folder, then ``os.replace``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd


def _tmp(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def write_json(path: Path, payload: dict) -> None:
    tmp = _tmp(path)
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    tmp = _tmp(path)
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def write_csv(path: Path, frame: pd.DataFrame, **to_csv) -> None:
    tmp = _tmp(path)
    frame.to_csv(tmp, index=False, **to_csv)
    os.replace(tmp, path)


def write_npz(path: Path, **arrays) -> None:
    """Compressed .npz (numpy appends the suffix itself, so the temp name keeps it)."""
    import numpy as np

    tmp = _tmp(path)
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def write_figure(path: Path, fig, dpi: int = 110) -> None:
    """Save and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    tmp = _tmp(path)
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)
