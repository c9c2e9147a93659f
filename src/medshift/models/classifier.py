"""A small X-ray domain/dose classifier; also the project's offline feature network."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from medshift.models.layers import ResBlock
from medshift.models.weights import read_metadata, read_weights
from medshift.signal import noise_filter


class DomainClassifier(nn.Module):
    """(B, 1, H, W) in [0, 1] -> class logits; ``features`` gives the pooled embedding."""

    def __init__(self, n_classes: int, width: int = 32) -> None:
        super().__init__()
        self.width = width
        self.body = nn.Sequential(
            nn.Conv2d(2, width // 2, 3, stride=2, padding=1), ResBlock(width // 2, width // 2),
            nn.Conv2d(width // 2, width, 3, stride=2, padding=1), ResBlock(width, width),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            ResBlock(2 * width, 2 * width), nn.SiLU())
        self.head = nn.Linear(4 * width, n_classes)

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        # dose classes differ in pixel-level noise, which a strided first layer would alias:
        # the Immerkaer noise-filter response is given as a second input channel
        return torch.cat([x * 2 - 1, 10.0 * noise_filter(x)], dim=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(self._inputs(x))
        # mean and std pooling: the std keeps noise-level information a mean would lose
        return torch.cat([h.mean((2, 3)), h.std((2, 3))], dim=1)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after each residual stage (full, 1/2, 1/4 ... resolution)."""
        maps, h = [], self._inputs(x)
        for layer in self.body:
            h = layer(h)
            if isinstance(layer, ResBlock):
                maps.append(h)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def load_classifier(directory: Path | str) -> tuple[DomainClassifier, dict]:
    """The domain/dose classifier and its metadata from an export directory (written by
    ``save_export`` with the module name ``classifier`` and ``classes``/``width`` metadata)."""
    meta = read_metadata(directory)
    model = DomainClassifier(len(meta["classes"]), meta["width"])
    model.load_state_dict(read_weights(directory, "classifier"))
    return model.eval(), meta


@torch.no_grad()
def predict(model: DomainClassifier, images: np.ndarray | torch.Tensor, batch: int = 64
            ) -> np.ndarray:
    """Class ids (N,) int64 of images (N, 1, H, W) float32 in [0, 1], from class
    probabilities averaged over the four flips of each image (on the model's device)."""
    device = next(model.parameters()).device
    x = torch.as_tensor(images, dtype=torch.float32).to(device)
    probs = []
    for k in range(0, len(x), batch):
        xb = x[k:k + batch]
        views = (xb, xb.flip(-1), xb.flip(-2), xb.flip(-1).flip(-2))
        probs.append(cast(torch.Tensor, sum(torch.softmax(model(v), 1) for v in views)))
    return torch.cat(probs).argmax(1).cpu().numpy()
