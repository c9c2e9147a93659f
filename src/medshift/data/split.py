"""Subject-grouped train/val/test split, stratified, deterministic, optionally unpaired.

Subjects are grouped by what they contain (their set of (class, view) pairs) and each group
is divided by the fractions, so every split gets the same mix of classes and views. With
``unpaired_train`` each training subject keeps one class only (classes balanced by a
least-used rule); validation and test subjects keep every class, which gives aligned true
targets for translation.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from medshift.config.split import SplitConfig


def allocate(n: int, fractions: list[float]) -> list[int]:
    """Integer counts summing to n by largest remainder; each split gets one if n allows."""
    raw = np.array(fractions) * n
    counts = np.floor(raw).astype(int)
    for k in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[k] += 1
    if n >= len(fractions):
        for k in range(len(counts)):
            if counts[k] == 0:
                donor = int(np.argmax(counts))
                counts[donor] -= 1
                counts[k] += 1
    return counts.tolist()


def assign_subjects(manifest: pd.DataFrame, cfg: SplitConfig) -> dict[str, str]:
    """subject_id -> split name."""
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed))
    content = manifest.groupby("subject_id")[["class_name", "view"]].apply(
        lambda g: tuple(sorted(zip(g["class_name"], g["view"], strict=True))))
    names, fractions = zip(*cfg.fractions, strict=True)
    out: dict[str, str] = {}
    for signature in sorted(set(content)):
        subjects = sorted(content.index[content == signature])
        subjects = [subjects[i] for i in rng.permutation(len(subjects))]
        start = 0
        for name, count in zip(names, allocate(len(subjects), list(fractions)), strict=True):
            out.update({s: name for s in subjects[start:start + count]})
            start += count
    return out


def choose_training_classes(manifest: pd.DataFrame, train_subjects: list[str],
                            class_ids: tuple[str, ...], seed: int) -> dict[str, str]:
    """One class per training subject, balancing counts across classes."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    has = manifest.groupby("subject_id")["class_name"].apply(set)
    used: Counter = Counter()
    chosen = {}
    for subject in [train_subjects[i] for i in rng.permutation(len(train_subjects))]:
        options = [c for c in class_ids if c in has[subject]]
        pick = min(options, key=lambda c: (used[c], class_ids.index(c)))
        chosen[subject] = pick
        used[pick] += 1
    return chosen


def make_splits(manifest: pd.DataFrame, cfg: SplitConfig, class_ids: tuple[str, ...]
                ) -> pd.DataFrame:
    """(image_id, split) for every image used; unpaired training drops the other classes."""
    subject_split = assign_subjects(manifest, cfg)
    split = manifest["subject_id"].map(subject_split)
    keep = pd.Series(True, index=manifest.index)
    if cfg.unpaired_train:
        train_subjects = sorted(s for s, v in subject_split.items() if v == "train")
        chosen = choose_training_classes(manifest, train_subjects, class_ids, cfg.seed)
        is_train = split == "train"
        keep = ~is_train | (manifest["class_name"] == manifest["subject_id"].map(chosen))
    frame = pd.DataFrame({"image_id": manifest["image_id"], "split": split})[keep]
    return frame.sort_values("image_id", kind="stable").reset_index(drop=True)


def split_summary(splits: pd.DataFrame, manifest: pd.DataFrame) -> dict:
    """Image counts per split and class, subjects per split, images left out of training."""
    joined = splits.merge(manifest[["image_id", "subject_id", "class_name", "view"]],
                          on="image_id")
    table = joined.groupby(["split", "class_name"]).size()
    return {
        "images": {s: {c: int(n) for (s2, c), n in table.items() if s2 == s}
                   for s in ("train", "val", "test")},
        "subjects": {s: int(joined.loc[joined["split"] == s, "subject_id"].nunique())
                     for s in ("train", "val", "test")},
        "views": sorted(joined["view"].unique().tolist()),
        "excluded_by_unpaired_training": int(len(manifest) - len(splits)),
        "total_images": int(len(splits)),
    }
