"""A small X-ray domain/dose classifier; also the project's offline feature network."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from medshift.models.layers import ResBlock
from medshift.models.texture_stats import n_statistics, texture_statistics
from medshift.models.weights import read_metadata, read_weights
from medshift.signal import noise_filter

N_TEXTURE = n_statistics()


class DomainClassifier(nn.Module):
    """(B, 1, H, W) in [0, 1] -> class logits; ``features`` gives the pooled embedding.

    With ``texture`` the embedding also holds the image's texture statistics
    (``texture_statistics``: noise level and correlation at several scales), standardised
    by the training set's mean and std (buffers, saved with the weights).
    """

    texture_mean: torch.Tensor  # buffers (registered in __init__)
    texture_std: torch.Tensor

    def __init__(self, n_classes: int, width: int = 32, texture: bool = False) -> None:
        super().__init__()
        self.width, self.texture = width, texture
        self.body = nn.Sequential(
            nn.Conv2d(2, width // 2, 3, stride=2, padding=1), ResBlock(width // 2, width // 2),
            nn.Conv2d(width // 2, width, 3, stride=2, padding=1), ResBlock(width, width),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            ResBlock(2 * width, 2 * width), nn.SiLU())
        n_texture = N_TEXTURE if texture else 0
        self.register_buffer("texture_mean", torch.zeros(n_texture))
        self.register_buffer("texture_std", torch.ones(n_texture))
        self.head = nn.Linear(4 * width + n_texture, n_classes)
        # a linear texture expert fitted apart from the CNN (fit_texture_head): the joint
        # head leans on CNN features that fit the training images perfectly
        self.texture_head = nn.Linear(n_texture, n_classes) if texture else None

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        # dose classes differ in pixel-level noise, which a strided first layer would alias:
        # the Immerkaer noise-filter response is given as a second input channel
        return torch.cat([x * 2 - 1, 10.0 * noise_filter(x)], dim=1)

    def set_texture_norm(self, stats: torch.Tensor) -> None:
        """Standardise texture statistics by those (N, N_TEXTURE) of the training images."""
        self.texture_mean.copy_(stats.mean(0))
        self.texture_std.copy_(stats.std(0).clamp_min(1e-3))

    def features(self, x: torch.Tensor, texture: torch.Tensor | None = None) -> torch.Tensor:
        """Embedding (B, D) of x (B, 1, H, W) in [0, 1]: mean and std of the last stage's
        activations (D = 4 * width), then, with ``texture``, the standardised texture
        statistics (D += N_TEXTURE); ``texture`` passes them precomputed (B, N_TEXTURE)."""
        h = self.body(self._inputs(x))
        # mean and std pooling: the std keeps noise-level information a mean would lose
        pooled = torch.cat([h.mean((2, 3)), h.std((2, 3))], dim=1)
        if not self.texture:
            return pooled
        if texture is None:
            texture = texture_statistics(x)
        return torch.cat([pooled, (texture - self.texture_mean) / self.texture_std], dim=1)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after each residual stage (full, 1/2, 1/4 ... resolution)."""
        maps, h = [], self._inputs(x)
        for layer in self.body:
            h = layer(h)
            if isinstance(layer, ResBlock):
                maps.append(h)
        return maps

    def texture_of(self, x: torch.Tensor) -> torch.Tensor | None:
        """The texture statistics (B, N_TEXTURE) this model reads from x, or None without;
        they are invariant to flips, so views of one image can share them."""
        return texture_statistics(x) if self.texture else None

    def joint_logits(self, x: torch.Tensor, texture: torch.Tensor | None = None
                     ) -> torch.Tensor:
        """The CNN head's logits (B, n_classes) on ``features`` (what training fits)."""
        return self.head(self.features(x, texture))

    def forward(self, x: torch.Tensor, texture: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits (B, n_classes) of x (B, 1, H, W) in [0, 1]; ``texture`` as in
        ``features``. With texture, a product of experts: log p_joint + log p_texture, the
        second from the linear texture head on the standardised statistics."""
        logits = self.joint_logits(x, texture)
        if self.texture_head is None:
            return logits
        if texture is None:
            texture = texture_statistics(x)
        standard = (texture - self.texture_mean) / self.texture_std
        return (torch.log_softmax(logits, 1)
                + torch.log_softmax(self.texture_head(standard), 1))


def load_classifier(directory: Path | str) -> tuple[DomainClassifier, dict]:
    """The domain/dose classifier and its metadata from an export directory (written by
    ``save_export`` with the module name ``classifier`` and ``classes``/``width``/``texture``
    metadata).

    Raises:
        ValueError: the export is another kind (a MedShift model, say): no ``width``.
    """
    meta = read_metadata(directory)
    if "width" not in meta or "autoencoder" in meta:
        raise ValueError(f"{directory}: not a classifier export (the classifier stage writes "
                         f"models/classifier)")
    model = DomainClassifier(len(meta["classes"]), meta["width"], meta.get("texture", False))
    model.load_state_dict(read_weights(directory, "classifier"))
    return model.eval(), meta


@torch.no_grad()
def predict(model: DomainClassifier, images: np.ndarray | torch.Tensor, batch: int = 64
            ) -> np.ndarray:
    """Class ids (N,) int64 of images (N, 1, H, W) float32 in [0, 1], from class
    probabilities averaged over the four flips of each image (on the model's device; the
    texture statistics are flip-invariant, so they are computed once per image)."""
    device = next(model.parameters()).device
    x = torch.as_tensor(images, dtype=torch.float32).to(device)
    probs = []
    for k in range(0, len(x), batch):
        xb = x[k:k + batch]
        texture = model.texture_of(xb)
        views = (xb, xb.flip(-1), xb.flip(-2), xb.flip(-1).flip(-2))
        probs.append(cast(torch.Tensor, sum(torch.softmax(model(v, texture), 1)
                                            for v in views)))
    return torch.cat(probs).argmax(1).cpu().numpy()
