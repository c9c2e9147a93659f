"""The evaluation's figures: tau trade-off, sample grids per pair, per-class NPS curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from medshift.evaluation.tables import TRANSLATORS
from medshift.io import write_figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def tradeoff_figure(groups: pd.DataFrame, group_names: tuple[str, ...], path: Path) -> None:
    """Structure (SSIM to the source) against realism (Fréchet distance) per tau, for the
    translators, with the baselines and the ceiling as single points (paper Fig. 1 idea)."""
    plt = _plt()
    names = [g for g in group_names if g in set(groups["group"])] or sorted(set(groups["group"]))
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        g = groups[groups["group"] == name]
        for method in TRANSLATORS:
            m = g[g["method"] == method].sort_values("tau")
            if m.empty:
                continue
            ax.plot(m["ssim_source"], m["fd"], "o-", label=method)
            for _, r in m.iterrows():
                ax.annotate(f"τ={r['tau']:g}", (r["ssim_source"], r["fd"]), fontsize=7,
                            textcoords="offset points", xytext=(4, 4))
        for method, marker in (("identity", "s"), ("histmatch", "^"), ("autoencoder", "*")):
            m = g[g["method"] == method]
            if not m.empty:
                ax.plot(m["ssim_source"], m["fd"], marker, label=method, markersize=8)
        ax.set_xlabel("SSIM to the source (structure kept)")
        ax.set_ylabel("FD to the target class (lower: more realistic)")
        ax.set_title(name.replace("_", " "), fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle("Trade-off over τ, measured on the simulated benchmark", fontsize=10)
    fig.tight_layout()
    write_figure(path, fig)


def sample_grid(columns: dict[str, np.ndarray], title: str, path: Path) -> None:
    """One row per source image, one column per method (images (R, H, W) in [0, 1]), drawn
    as one mosaic (one axes, not one per image: a tenth of the drawing time)."""
    plt = _plt()
    names = list(columns)
    rows, h, w = next(iter(columns.values())).shape
    gap = max(2, w // 32)
    mosaic = np.ones((rows * (h + gap) - gap, len(names) * (w + gap) - gap), np.float32)
    for c, name in enumerate(names):
        for r in range(rows):
            mosaic[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = \
                columns[name][r]
    fig = plt.figure(figsize=(1.7 * len(names), 1.7 * rows + 0.6))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - 0.6 / (1.7 * rows + 0.6)))
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    for c, name in enumerate(names):
        ax.text(c * (w + gap) + w / 2, -gap, name, ha="center", va="bottom", fontsize=7)
    fig.suptitle(title, fontsize=9, y=0.995, va="top")
    write_figure(path, fig, dpi=90)


def nps_figure(curves: dict[tuple[str, str], np.ndarray], classes: tuple[str, ...],
               path: Path) -> None:
    """Per target class: the reference images' high-pass NPS and each method's mean."""
    plt = _plt()
    present = [c for c in classes if any(k[0] == c for k in curves)]
    if not present:
        return
    fig, axes = plt.subplots(1, len(present), figsize=(3.4 * len(present), 3.2),
                             squeeze=False)
    for ax, cls in zip(axes[0], present, strict=True):
        for (target, config), curve in sorted(curves.items()):
            if target != cls:
                continue
            f = np.arange(1, len(curve) + 1) / (2.0 * len(curve))
            style = "k-" if config == "reference" else "--"
            ax.semilogy(f, curve, style, label=config, linewidth=1.6 if style == "k-" else 1)
        ax.set_title(f"target {cls}", fontsize=9)
        ax.set_xlabel("cycles / pixel", fontsize=8)
        ax.legend(fontsize=6)
    axes[0, 0].set_ylabel("high-pass NPS")
    fig.suptitle("Noise texture of translations against target-class images "
                 "(simulated benchmark)", fontsize=9)
    fig.tight_layout()
    write_figure(path, fig)
