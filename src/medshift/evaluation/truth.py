"""The simulator's ground truth at the working size: each image's field of view and the
noise-free render of its class, read from ``truth/{subject}/{view}.npz`` (simulate stage).

The truth arrays are in the simulator's stored-pixel convention (PixelIntensityRelationship
sign +1, bone dark), which ingestion inverts to bone bright; they are resized exactly as
ingestion resizes images (``data.ingest.resize_square``), so they align pixel for pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from medshift.data.ingest import resize_square


@dataclass(frozen=True)
class Truth:
    """Per manifest row: field (N, H, W) bool, noise-free render (N, 1, H, W) float32 in
    [0, 1] bone bright (NaN where unknown), and whether the simulator's truth was found."""

    fields: np.ndarray
    clean: np.ndarray
    found: np.ndarray


def load_truth(rows: pd.DataFrame, simulated: Path | str | None, size: int) -> Truth:
    """Fields and noise-free renders for manifest rows (columns path, class_name).

    Args:
        rows: manifest rows; ``path`` is the DICOM file, under ``simulated``.
        simulated: the simulator's output folder (holds manifest.csv and truth/); None or a
            folder without it: no truth (every field is the whole image, renders NaN).
        size: the working size images were resized to.

    Returns:
        Truth aligned with ``rows``. An image the simulator did not write, or whose truth
        file is unreadable, gets the whole image as field and a NaN render.
    """
    n = len(rows)
    fields = np.ones((n, size, size), bool)
    clean = np.full((n, 1, size, size), np.nan, np.float32)
    found = np.zeros(n, bool)
    lookup = _simulator_index(simulated)
    cache: dict[str, dict[str, np.ndarray] | None] = {}
    for k, (path, cls) in enumerate(zip(rows["path"], rows["class_name"], strict=True)):
        truth_file = lookup.get(_relative(path, simulated))
        if truth_file is None:
            continue
        if truth_file not in cache and simulated is not None:
            cache[truth_file] = _read(Path(simulated) / truth_file)
        arrays = cache.get(truth_file)
        if arrays is None or cls not in arrays or f"field_{cls}" not in arrays:
            continue
        inside = resize_square(arrays[f"field_{cls}"].astype(np.float32), size)
        fields[k] = inside >= 1 - 1e-6  # only pixels wholly inside the field
        clean[k, 0] = 1.0 - resize_square(arrays[cls].astype(np.float32) / 65535.0, size)
        found[k] = True
    return Truth(fields, clean, found)


def _simulator_index(simulated: Path | str | None) -> dict[str, str]:
    if simulated is None or not (Path(simulated) / "manifest.csv").is_file():
        return {}
    sim = pd.read_csv(Path(simulated) / "manifest.csv", usecols=["path", "truth_path"])
    return dict(zip(sim["path"], sim["truth_path"], strict=True))


def _relative(path: str, simulated: Path | str | None) -> str:
    """The path under the simulator's folder; else its last three parts, the simulator's
    {class}/{subject}/{view}.dcm layout (a manifest made in another checkout)."""
    try:
        if simulated is None:
            raise ValueError("no simulator folder")
        return Path(path).resolve().relative_to(Path(simulated).resolve()).as_posix()
    except (ValueError, TypeError):
        return "/".join(Path(path).parts[-3:])


def _read(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        print(f"{path}: truth unreadable ({type(exc).__name__}: {exc}); its images are "
              f"scored without field masks or noise-free renders")
        return None
