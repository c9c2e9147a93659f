"""The whole evaluation as one call on arrays already loaded: assemble the methods' outputs,
score them, aggregate per pair and per group, rank, check. Writes nothing (report.py does).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from medshift.config.evaluate import EvaluateConfig
from medshift.evaluation.benchmark import Outputs, TestImages, assemble
from medshift.evaluation.inputs import Translations
from medshift.evaluation.perceptual import lpips_unavailable
from medshift.evaluation.reference import ReferenceStats
from medshift.evaluation.scoring import (
    aggregate,
    class_curves,
    judge_bf16,
    score_images,
    test_accuracy,
)
from medshift.evaluation.tables import (
    TRANSLATORS,
    add_groups,
    checks,
    group_means,
    headline,
    quality_checks,
    ranked,
    taus,
)
from medshift.models.classifier import DomainClassifier


@dataclass(frozen=True)
class Evaluation:
    """Everything the report shows.

    pairs: one row per (source, target, config), every metric, ``group``.
    pair_ranked / group_ranked: tau -> the rows at that tau with an average ``rank``.
    checks / headline: at the headline tau (params.evaluate); default_checks / default: the
        same at ``default_tau``, the tau ``medshift translate`` uses by default.
    quality: the quality bar per synthetic <-> real pair at ``default_tau``
        (``tables.quality_checks``).
    groups: group means of every config (all taus), for the trade-off.
    samples: "source_to_target" -> column name -> (R, H, W) images.
    nps: (target, config) -> mean curve; reference curves under config "reference".
    """

    pairs: pd.DataFrame
    groups: pd.DataFrame
    pair_ranked: dict[float, pd.DataFrame]
    group_ranked: dict[float, pd.DataFrame]
    checks: dict
    headline: dict
    default_tau: float
    default: dict
    default_checks: dict
    quality: dict
    samples: dict[str, dict[str, np.ndarray]]
    nps: dict[tuple[str, str], np.ndarray]
    lpips_note: str | None
    notes: list[str]
    seconds: dict[str, float] = field(default_factory=dict)


def evaluate(test: TestImages, translations: Translations, reference: ReferenceStats,
             classifier: DomainClassifier, classes: tuple[str, ...],
             domains: dict[str, str], cfg: EvaluateConfig,
             default_tau: float | None = None) -> Evaluation:
    """Score identity, histogram matching, the autoencoder ceiling and every translation in
    the index on the test split (see benchmark.py for what each method is).

    Args:
        test: the test split with fields, noise-free renders and reconstructions.
        translations: the translate stage's output.
        reference: cached per-class reference statistics.
        classifier: the judge and feature network.
        classes: class ids in label order.
        domains: class id -> domain (synthetic | real), for the pair groups.
        cfg: params.evaluate.
        default_tau: params.translate.tau, reported next to the headline (None: the headline
            tau); the nearest translated tau stands in for either.
    """
    clock = {"start": time.perf_counter()}
    outputs, notes = assemble(test, translations, reference)
    notes = list(translations.skipped) + notes
    clock["assemble"] = time.perf_counter()
    scores, features, curves = score_images(outputs, test, classifier, classes, cfg)
    clock["score"] = time.perf_counter()
    correct = test_accuracy(test, classifier, cfg.batch_size, judge_bf16(cfg))
    pairs = add_groups(aggregate(outputs, scores, features, curves, reference, correct, cfg),
                       domains)
    clock["aggregate"] = time.perf_counter()
    groups = group_means(pairs)
    all_taus = taus(pairs) or [cfg.headline_tau]
    pair_ranked = {t: ranked(pairs, ["source", "target"], t) for t in all_taus}
    group_ranked = {t: ranked(groups, ["group"], t) for t in all_taus}
    head_tau = min(all_taus, key=lambda t: abs(t - cfg.headline_tau))
    default_tau = min(all_taus, key=lambda t: abs(t - (
        cfg.headline_tau if default_tau is None else default_tau)))
    configs = ["identity", "histmatch"] + [f"{m}@{head_tau:g}" for m in TRANSLATORS]
    nps = class_curves(outputs, curves, configs)
    nps |= {(c, "reference"): curve for c, curve in reference.nps.items() if len(curve)}
    return Evaluation(
        pairs=pairs, groups=groups, pair_ranked=pair_ranked, group_ranked=group_ranked,
        checks=checks(pairs, groups, head_tau, cfg.hit_ratio_required),
        headline=headline(group_ranked[head_tau], cfg.headline_groups),
        default_tau=default_tau,
        default=headline(group_ranked[default_tau], cfg.headline_groups),
        default_checks=checks(pairs, groups, default_tau, cfg.hit_ratio_required),
        quality=quality_checks(pairs, default_tau, cfg.quality_psnr_min,
                               cfg.quality_ssim_ratio, cfg.quality_hit_min,
                               cfg.hit_ratio_required),
        samples=samples(outputs, test, cfg.sample_rows), nps=nps,
        lpips_note=lpips_unavailable(cfg.lpips_torch_home, cfg.lpips_net), notes=notes,
        seconds={"assemble": clock["assemble"] - clock["start"],
                 "score": clock["score"] - clock["assemble"],
                 "aggregate": clock["aggregate"] - clock["score"]})


def samples(outputs: Outputs, test: TestImages, rows: int) -> dict[str, dict[str, np.ndarray]]:
    """Per pair, the first ``rows`` source images (by test position): source | each
    translation config | histogram matching | true target (when known)."""
    meta = outputs.meta
    out = {}
    for (source, target), g in meta.groupby(["source", "target"], sort=True):
        chosen = np.unique(g["src"])[:rows]
        cols = {"source": test.images[chosen, 0]}
        configs = sorted(c for c in g["config"].unique() if "@" in c) + ["histmatch"]
        for config in configs:
            rows_c = g[g["config"] == config].drop_duplicates("src")
            if set(chosen) <= set(rows_c["src"]):
                first = dict(zip(rows_c["src"], rows_c.index, strict=True))
                cols[config] = outputs.images[[first[s] for s in chosen], 0]
        tgt = g.drop_duplicates("src").set_index("src").loc[chosen, "tgt"].to_numpy()
        if (tgt >= 0).all():
            cols["true target"] = test.images[tgt, 0]
        out[f"{source}_to_{target}"] = cols
    return out
