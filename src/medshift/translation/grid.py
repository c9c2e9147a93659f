"""A picture of translation: one input per class (rows) translated to every class."""

from __future__ import annotations

import numpy as np

from medshift.models.export import MedShiftModel
from medshift.translation.translate import TranslationRequest, translate_to_targets


def translation_grid(images: np.ndarray, labels: np.ndarray, model: MedShiftModel,
                     request: TranslationRequest):
    """Matplotlib figure: rows = source images, columns = input then each target class.

    Args:
        images: (N, 1, H, W) float32 in [0, 1]; the first image of each class is shown.
        labels: (N,) class labels of ``images``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = model.classes
    rows = [int(np.flatnonzero(labels == k)[0]) for k in range(len(classes))
            if (labels == k).any()]
    # inverted once per row, then generated for every target
    outs, _ = translate_to_targets(model, images[rows], labels[rows].tolist(),
                                   list(range(len(classes))),
                                   request)
    fig, axes = plt.subplots(len(rows), len(classes) + 1,
                             figsize=(1.6 * (len(classes) + 1), 1.6 * len(rows)), squeeze=False)
    for r, i in enumerate(rows):
        axes[r, 0].imshow(images[i, 0], cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(classes[labels[i]], fontsize=7)
        for c in range(len(classes)):
            axes[r, c + 1].imshow(outs[c][r, 0], cmap="gray", vmin=0, vmax=1)
    for c in range(len(classes)):
        axes[0, c + 1].set_title(f"-> {classes[c]}", fontsize=7)
    axes[0, 0].set_title("input", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"MedShift translation, tau={request.tau}, {request.solver}, "
                 f"{request.nfe} NFE", fontsize=8)
    fig.tight_layout()
    return fig
