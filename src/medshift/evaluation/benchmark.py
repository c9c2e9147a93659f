"""Score every method on the same test images, per class pair (the paper's Table 1, plus
correctness against aligned true targets that only the simulated benchmark has).

Methods: identity (the source itself), histogram matching to the target class's training
images, the translations in the index (MedShift and SDEdit at each tau), and the
autoencoder ceiling: the true target's own reconstruction, scored the same way (no
translation through this autoencoder can do better on correctness).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medshift.evaluation.baselines import histogram_match
from medshift.evaluation.inputs import Translations
from medshift.evaluation.reference import ReferenceStats

BASELINES = ("identity", "histmatch")
CEILING = "autoencoder"
# metric -> higher is better; the ranked columns of the tables
DIRECTIONS = {
    "ssim_source": True, "psnr_source": True, "lpips_source": False,
    "ssim_target_anatomy": True, "psnr_target_anatomy": True,
    "ssim_clean_anatomy": True, "psnr_clean_anatomy": True, "lpips_target": False,
    "fd": False, "kid": False, "mmd": False, "precision": True, "recall": True,
    "coverage": True, "nps": False, "class_hit": True,
}


@dataclass(frozen=True)
class TestImages:
    """The test split, by position: manifest rows (image_id, subject_id, view, class_name,
    label), images (N, 1, H, W), fields (N, H, W) bool, noise-free renders (N, 1, H, W)
    (NaN where unknown) and the autoencoder's reconstructions (N, 1, H, W) or None."""

    rows: pd.DataFrame
    images: np.ndarray
    fields: np.ndarray
    clean: np.ndarray
    recon: np.ndarray | None = None
    recon_seconds: float = 0.0  # per image


@dataclass(frozen=True)
class Outputs:
    """Everything scored: meta (config, method, tau, source, target, src, tgt, origin,
    seconds; src/tgt are test positions, tgt -1 without a true target) and images."""

    meta: pd.DataFrame
    images: np.ndarray


def config_label(method: str, tau: float) -> str:
    """``method`` for baselines, ``method@tau`` for translations."""
    return method if pd.isna(tau) else f"{method}@{tau:g}"


def assemble(test: TestImages, translations: Translations, reference: ReferenceStats
             ) -> tuple[Outputs, list[str]]:
    """Line up translations with their sources and true targets, and add the baselines and
    the ceiling for the same source images of every pair in the index.

    Returns:
        (Outputs, notes): one note per translation row that could not be placed.
    """
    rows = test.rows
    pos = {iid: k for k, iid in enumerate(rows["image_id"])}
    key = {(s, v, c): k for k, (s, v, c) in
           enumerate(zip(rows["subject_id"], rows["view"], rows["class_name"], strict=True))}
    idx = translations.index
    src = idx["image_id"].map(pos)
    notes = []
    if src.isna().any():
        notes.append(f"{int(src.isna().sum())} translations of images outside the test "
                     f"split were left out")
    ok = src.notna().to_numpy()
    idx, images, src = idx[ok].reset_index(drop=True), translations.images[ok], src[ok]
    src = src.astype(int).to_numpy()
    tgt = np.array([key.get((rows["subject_id"].iat[s], rows["view"].iat[s], t), -1)
                    for s, t in zip(src, idx["target"], strict=True)])
    meta = [pd.DataFrame({"method": idx["method"], "tau": idx["tau"].astype(float),
                          "source": idx["source"], "target": idx["target"], "src": src,
                          "tgt": tgt, "origin": "own", "seconds": idx["seconds"]})]
    parts = [images]
    for (source, target), group in meta[0].groupby(["source", "target"], sort=True):
        s_pos = np.unique(group["src"])
        t_pos = group.drop_duplicates("src").set_index("src").loc[s_pos, "tgt"].to_numpy()
        base = dict(tau=np.nan, source=source, target=target, src=s_pos, tgt=t_pos)
        start = time.perf_counter()
        matched = histogram_match(test.images[s_pos], reference.quantiles[target])
        per_image = (time.perf_counter() - start) / len(s_pos)
        meta += [pd.DataFrame({**base, "method": "identity", "origin": "test", "seconds": 0.0}),
                 pd.DataFrame({**base, "method": "histmatch", "origin": "own",
                               "seconds": per_image})]
        parts += [matched]
        if test.recon is not None and (t_pos >= 0).any():
            has = t_pos >= 0
            meta.append(pd.DataFrame({**base, "src": s_pos[has], "tgt": t_pos[has],
                                      "method": CEILING, "origin": "recon",
                                      "seconds": test.recon_seconds}))
    meta_df = pd.concat(meta, ignore_index=True)
    meta_df["config"] = [config_label(m, t) for m, t in
                         zip(meta_df["method"], meta_df["tau"], strict=True)]
    own = np.concatenate(parts)
    return Outputs(meta_df, _place(meta_df, own, test)), notes


def _place(meta: pd.DataFrame, own: np.ndarray, test: TestImages) -> np.ndarray:
    """Images in meta order: 'own' rows from ``own`` (in order), others from the test set."""
    out = np.empty((len(meta), *test.images.shape[1:]), np.float32)
    is_own = (meta["origin"] == "own").to_numpy()
    out[is_own] = own
    from_test = (meta["origin"] == "test").to_numpy()
    out[from_test] = test.images[meta.loc[from_test, "src"].to_numpy()]
    from_recon = (meta["origin"] == "recon").to_numpy()
    if from_recon.any() and test.recon is not None:
        out[from_recon] = test.recon[meta.loc[from_recon, "tgt"].to_numpy()]
    return out
