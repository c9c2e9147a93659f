"""The offline feature space: the pipeline's X-ray domain classifier (trained on the
training split only) as the embedding for Fréchet distance, KID, PRDC and MMD, and as the
judge of class hits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from medshift.models.classifier import DomainClassifier


class ClassifierFeatures(nn.Module):
    """A torchmetrics ``feature`` module: (B, 1, H, W) float32 in [0, 1] -> (B, D) embedding
    of the classifier (its pooled features before the class head)."""

    def __init__(self, classifier: DomainClassifier) -> None:
        super().__init__()
        self.classifier = classifier.eval()
        self.num_features = int(classifier.head.in_features)  # the embedding feeds the head

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(x)


@dataclass(frozen=True)
class Judged:
    """Features (N, D) float64 and the classifier's flip-averaged class ids (N,)."""

    features: np.ndarray
    predicted: np.ndarray


@torch.no_grad()
def judge(classifier: DomainClassifier, images: np.ndarray, batch: int = 128,
          bf16: bool = False) -> Judged:
    """Embed and classify images.

    Args:
        classifier: the trained domain classifier (``models.export.load_classifier``).
        images: (N, 1, H, W) float32 in [0, 1].
        batch: images per forward pass.
        bf16: run the network under bf16 autocast (about 3x faster on CPUs with native
            bf16; reference and evaluated images must use the same setting).

    Returns:
        Judged: features from ``ClassifierFeatures`` and class ids from
        ``training.classifier.predict`` (probabilities averaged over the four flips).
    """
    from medshift.models.classifier import predict
    from medshift.precision import bf16_autocast

    module = ClassifierFeatures(classifier)
    x = torch.as_tensor(images)
    with bf16_autocast(bf16, x.device):
        feats = torch.cat([module(x[k:k + batch]).float() for k in range(0, len(x), batch)])
        predicted = np.asarray(predict(classifier, images, batch))
    return Judged(feats.double().numpy(), predicted)
