"""A picture of translation: one input per class (rows) translated to every class."""

from __future__ import annotations

import numpy as np
import torch

from medshift.latents import LatentStats
from medshift.models.autoencoder import KLAutoencoder
from medshift.models.velocity import VelocityUNet
from medshift.translation.translate import TranslationRequest, generate, invert


def translation_grid(images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...],
                     autoencoder: KLAutoencoder, velocity: VelocityUNet, stats: LatentStats,
                     request: TranslationRequest):
    """Matplotlib figure: rows = source images, columns = input then each target class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [int(np.flatnonzero(labels == k)[0]) for k in range(len(classes))
            if (labels == k).any()]
    x = torch.from_numpy(images[rows])
    fig, axes = plt.subplots(len(rows), len(classes) + 1,
                             figsize=(1.6 * (len(classes) + 1), 1.6 * len(rows)), squeeze=False)
    for r, i in enumerate(rows):
        axes[r, 0].imshow(images[i, 0], cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(classes[labels[i]], fontsize=7)
    src = torch.from_numpy(labels[rows])
    z_tau = invert(x, src, autoencoder, velocity, stats, request)  # shared by every target
    for c in range(len(classes)):
        out = generate(z_tau, torch.full_like(src, c), autoencoder, velocity, stats, request)
        for r in range(len(rows)):
            axes[r, c + 1].imshow(out[r, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        axes[0, c + 1].set_title(f"-> {classes[c]}", fontsize=7)
    axes[0, 0].set_title("input", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"MedShift translation, tau={request.tau}, {request.method}/{request.nfe} NFE",
                 fontsize=8)
    fig.tight_layout()
    return fig
