"""In-memory image sets for training and evaluation (the default data fits easily)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ImageSet:
    """Images (N, 1, S, S) float32 in [0, 1] with labels and the manifest rows they come from."""

    images: np.ndarray
    labels: np.ndarray
    rows: pd.DataFrame

    def __len__(self) -> int:
        return len(self.labels)


def load_split(manifest: pd.DataFrame, splits: pd.DataFrame, images_dir: Path,
               split: str, whole_subjects: bool = False) -> ImageSet:
    """Every image of one split, in image_id order.

    ``whole_subjects`` also takes the images an unpaired split left out: every manifest
    image of the split's subjects (for class-agnostic models such as the autoencoder,
    which never see which images pair up; no image of another split's subject enters).
    """
    chosen = splits[splits["split"] == split]
    if whole_subjects:
        subjects = manifest.loc[manifest["image_id"].isin(chosen["image_id"]), "subject_id"]
        rows = manifest[manifest["subject_id"].isin(set(subjects))].assign(split=split)
    else:
        rows = manifest.merge(chosen, on="image_id")
    rows = rows.sort_values("image_id", kind="stable").reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"split {split!r} is empty")
    images = np.stack([np.load(images_dir / f"{i}.npy") for i in rows["image_id"]])
    images = (images.astype(np.float32) / 65535.0)[:, None]
    return ImageSet(images, rows["label"].to_numpy(np.int64), rows)
