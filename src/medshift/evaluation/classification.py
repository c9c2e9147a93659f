"""Classification scores: per-class accuracy and the confusion matrix."""

from __future__ import annotations

import numpy as np


def classifier_report(pred: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]
                      ) -> dict:
    """Per-class accuracy and the confusion matrix (rows: true class, columns: predicted)."""
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    np.add.at(confusion, (labels, pred), 1)
    totals = confusion.sum(1)
    return {"accuracy": {name: round(float(confusion[k, k] / totals[k]), 4)
                         for k, name in enumerate(classes) if totals[k]},
            "overall_accuracy": round(float(np.trace(confusion) / confusion.sum()), 4),
            "confusion": {"classes": list(classes), "counts": confusion.tolist()}}


def hit_rate(pred: np.ndarray, target: np.ndarray | int) -> float:
    """Share of predictions (N,) equal to the intended class (one id or (N,) ids); NaN if
    N = 0."""
    pred = np.asarray(pred)
    return float(np.mean(pred == np.asarray(target))) if pred.size else float("nan")
