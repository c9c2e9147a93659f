"""``--source auto``: each image's source class predicted by the pipeline's domain classifier.

No peer offers this: images of unknown origin are usually inverted with the null label.
Here the classifier stage's model (flip-averaged) names the source, and the translation
reports which class it chose per image.
"""

from __future__ import annotations

import numpy as np
import torch

from medshift.models.classifier import DomainClassifier, predict
from medshift.models.export import MedShiftModel


def auto_source(model: MedShiftModel, classifier: DomainClassifier,
                classifier_classes: tuple[str, ...], images: np.ndarray | torch.Tensor
                ) -> np.ndarray:
    """Source labels (N,) int64 of the model's classes, predicted per image.

    Args:
        images: (N, 1, H, W) float32 in [0, 1] at the model's working size.
        classifier_classes: the classifier's class ids, in its label order.

    Raises:
        ValueError: the classifier was trained on other classes than the model.
    """
    if tuple(classifier_classes) != tuple(model.classes):
        raise ValueError(f"the domain classifier knows {list(classifier_classes)}, the model "
                         f"{list(model.classes)}: use a classifier trained on the same classes")
    return predict(classifier, images)
