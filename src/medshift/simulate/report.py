"""What a person checks after simulating: a class figure, NPS curves and simulate.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medshift.io import write_figure

FEATURES = ("sigma", "nps_centroid", "mtf50")


def lda_accuracy(frame: pd.DataFrame, features=FEATURES) -> dict[str, float]:
    """Linear discriminant on the standardised signatures, trained on even subjects and
    tested on odd ones (and vice versa); per-class and overall held-out accuracy."""
    x = frame[list(features)].to_numpy(float)
    x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-12)
    y = frame["cls"].to_numpy()
    classes = sorted(set(y))
    fold = frame["subject"].to_numpy() % 2
    predicted = np.empty(len(y), dtype=object)
    for held in (0, 1):
        train, test = fold != held, fold == held
        if not train.any() or not test.any():
            train = test = np.ones(len(y), bool)
        means = np.stack([x[train & (y == c)].mean(0) for c in classes])
        centred = np.concatenate([x[train & (y == c)] - means[i] for i, c in enumerate(classes)])
        cov_inv = np.linalg.pinv(np.cov(centred.T) + 1e-6 * np.eye(x.shape[1]))
        scores = x[test] @ cov_inv @ means.T - 0.5 * np.einsum("ij,jk,ik->i", means, cov_inv,
                                                                means)
        predicted[test] = np.asarray(classes, dtype=object)[scores.argmax(1)]
    correct = predicted == y
    out = {"overall": float(correct.mean())}
    out.update({c: float(correct[y == c].mean()) for c in classes})
    return out


def summarise(records: list[dict]) -> dict:
    """Per-class signature statistics and the linear classifier's held-out accuracy."""
    frame = pd.DataFrame(records)
    per_class: dict[str, dict[str, Any]] = {}
    for cls, group in frame.groupby("cls", sort=False):
        per_class[cls] = {f: {"mean": round(float(group[f].mean()), 5),
                              "std": round(float(group[f].std(ddof=0)), 5)} for f in FEATURES}
        per_class[cls]["images"] = len(group)
    return {
        "units": {"sigma": "display fraction (0-1) of the noise residual in the head",
                  "nps_centroid": "cycles/mm at the detector, residual NPS",
                  "mtf50": "cycles/mm at the detector, noise-free tilted-edge QC render"},
        "per_class": per_class,
        "linear_classifier_accuracy": lda_accuracy(frame),
        "images": len(frame),
    }


def class_figure(dataset_dir: Path, subject: int, view: str, classes: list[str], path: Path,
                 crop: float = 0.3) -> None:
    """One subject and view in every class, with a zoomed centre crop under each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pydicom

    fig, axes = plt.subplots(2, len(classes), figsize=(3.2 * len(classes), 6.6))
    for k, cls in enumerate(classes):
        ds = pydicom.dcmread(dataset_dir / f"{cls}/{subject:04d}/{view}.dcm")
        img = ds.pixel_array / float(ds.WindowWidth)
        n = img.shape[0]
        lo, hi = int(n * (0.5 - crop / 2)), int(n * (0.5 + crop / 2))
        axes[0, k].imshow(img, cmap="gray", vmin=0, vmax=1)
        axes[0, k].add_patch(plt.Rectangle((lo, lo), hi - lo, hi - lo, fill=False, ec="tab:red"))
        axes[0, k].set_title(cls)
        axes[1, k].imshow(img[lo:hi, lo:hi], cmap="gray", vmin=0, vmax=1,
                          interpolation="nearest")
        axes[1, k].set_title("centre crop", fontsize=9)
        for ax in axes[:, k]:
            ax.set_axis_off()
    fig.suptitle(f"subject {subject:04d}, view {view}: the same anatomy in every class")
    fig.tight_layout()
    write_figure(path, fig)


def nps_figure(results: list[dict], path: Path) -> None:
    """Mean radial residual NPS per class (log scale): white (syn) vs shaped (real) noise."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    by_class: dict[str, list] = {}
    for r in results:
        by_class.setdefault(r["record"]["cls"], []).append(r)
    for cls, items in by_class.items():
        length = min(len(i["nps"]) for i in items)
        f = items[0]["nps_f"][:length]
        ax.semilogy(f, np.mean([i["nps"][:length] for i in items], 0), label=cls)
    ax.set_xlabel("spatial frequency (cycles/mm at detector)")
    ax.set_ylabel("residual NPS (display² mm²)")
    ax.set_title("Noise power spectra per class")
    ax.legend()
    fig.tight_layout()
    write_figure(path, fig)
