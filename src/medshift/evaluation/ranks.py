"""Per-method ranks over metrics and their average, as in the MedShift paper's Table 1."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata


def average_ranks(scores: dict[str, dict[str, float | None]], higher_is_better: dict[str, bool]
                  ) -> dict[str, dict[str, float]]:
    """Rank the methods on each metric (1 = best, ties share their mean rank) and average.

    Args:
        scores: method -> metric -> value; None or NaN values are left out of that metric.
        higher_is_better: metric -> direction; only these metrics are ranked.

    Returns:
        method -> {metric: rank, ..., "average": mean over the metrics it was ranked on}.
    """
    methods = list(scores)
    ranks: dict[str, dict[str, float]] = {m: {} for m in methods}
    for metric, higher in higher_is_better.items():
        present = [m for m in methods if _valid(scores[m].get(metric))]
        if len(present) < 2:
            continue
        values = np.array([scores[m][metric] for m in present], dtype=np.float64)
        for m, r in zip(present, rankdata(-values if higher else values), strict=True):
            ranks[m][metric] = float(r)
    for m in methods:
        ranked = list(ranks[m].values())
        ranks[m]["average"] = float(np.mean(ranked)) if ranked else float("nan")
    return ranks


def _valid(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))
