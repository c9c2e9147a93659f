"""From per-pair rows to the paper's tables: averages over pair groups (synthetic -> real,
real -> synthetic), per-method average ranks at each tau, the headline numbers and the
acceptance checks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medshift.evaluation.benchmark import BASELINES, CEILING, DIRECTIONS
from medshift.evaluation.ranks import average_ranks

TRANSLATORS = ("medshift", "sdedit")


def add_groups(pairs: pd.DataFrame, domains: dict[str, str]) -> pd.DataFrame:
    """A ``group`` column: '{source domain}_to_{target domain}'."""
    return pairs.assign(group=[f"{domains[s]}_to_{domains[t]}" for s, t in
                               zip(pairs["source"], pairs["target"], strict=True)])


def group_means(pairs: pd.DataFrame) -> pd.DataFrame:
    """Mean of every numeric column over the pairs of each (group, config)."""
    numeric = [c for c in pairs.select_dtypes("number").columns if c not in ("tau", "n")]
    keys = ["group", "config", "method"]
    means = pairs.groupby(keys, sort=False, dropna=False)[numeric].mean().reset_index()
    first = pairs.groupby(keys, sort=False, dropna=False).agg(
        tau=("tau", "first"), n=("n", "sum"), pairs=("source", "size")).reset_index()
    return first.merge(means, on=keys)


def taus(table: pd.DataFrame) -> list[float]:
    """The translation taus present, ascending."""
    return sorted(float(t) for t in table.loc[table["method"].isin(TRANSLATORS), "tau"].unique())


def ranked(table: pd.DataFrame, keys: list[str], tau: float) -> pd.DataFrame:
    """Rows for the baselines and the translators at ``tau``, per ``keys`` (a pair or a
    group), with a ``rank`` column (average rank over DIRECTIONS, as in Table 1); the
    autoencoder ceiling is listed but not ranked."""
    chosen = table[table["method"].isin(BASELINES + (CEILING,))
                   | (table["method"].isin(TRANSLATORS) & np.isclose(table["tau"], tau))]
    out = []
    for _, g in chosen.groupby(keys, sort=False):
        ranked_rows = g[g["method"] != CEILING]
        scores = {r["config"]: {m: r.get(m) for m in DIRECTIONS if m in r}
                  for _, r in ranked_rows.iterrows()}
        ranks = average_ranks(scores, DIRECTIONS)
        out.append(g.assign(rank=[ranks.get(c, {}).get("average", np.nan)
                                  for c in g["config"]]))
    return pd.concat(out, ignore_index=True) if out else chosen.assign(rank=[])


def checks(pairs: pd.DataFrame, groups: pd.DataFrame, tau: float, hit_ratio: float
           ) -> dict:
    """The issue's acceptance checks, each with its margins.

    - per synthetic -> real pair at ``tau``: MedShift beats identity, histogram matching and
      SDEdit (same tau) on SSIM and PSNR to the true target in the anatomy region and on
      Fréchet distance; its class hit rate >= ``hit_ratio`` x the classifier's ceiling;
    - trade-off: per group and translator, SSIM to the source rises and realism falls
      (Fréchet distance rises, the class hit falls) as tau rises.
    """
    per_pair = {}
    syn_real = pairs[pairs["group"] == "synthetic_to_real"]
    for (source, target), g in syn_real.groupby(["source", "target"]):
        by = {r["config"]: r for _, r in g.iterrows()}
        ours = by.get(f"medshift@{tau:g}")
        if ours is None:
            continue
        rivals = [c for c in ("identity", "histmatch", f"sdedit@{tau:g}") if c in by]
        margins = {}
        for metric, higher in (("ssim_target_anatomy", True), ("psnr_target_anatomy", True),
                               ("fd", False)):
            best = max if higher else min
            rival = best(by[c][metric] for c in rivals)
            margins[metric] = float(ours[metric] - rival if higher else rival - ours[metric])
        ratio = float(ours["class_hit"] / ours["class_hit_ceiling"]) \
            if ours["class_hit_ceiling"] else np.nan
        per_pair[f"{source}_to_{target}"] = {
            "margin": margins, "hit_ratio": ratio,
            "pass": bool(all(m > 0 for m in margins.values()) and ratio >= hit_ratio)}
    monotone = {}
    for (group, method), g in groups[groups["method"].isin(TRANSLATORS)].groupby(
            ["group", "method"]):
        g = g.sort_values("tau")
        if len(g) < 2:
            continue
        monotone[f"{group}/{method}"] = {
            "ssim_source_rises": bool(np.all(np.diff(g["ssim_source"]) > 0)),
            "fd_rises": bool(np.all(np.diff(g["fd"]) > 0)),
            "class_hit_falls": bool(np.all(np.diff(g["class_hit"]) < 0))}
    return {"synthetic_to_real_pairs": per_pair, "tradeoff": monotone,
            "all_pairs_pass": bool(per_pair) and all(v["pass"] for v in per_pair.values()),
            "tradeoff_monotone": bool(monotone) and all(
                all(v.values()) for v in monotone.values())}


def quality_checks(pairs: pd.DataFrame, tau: float, psnr_min: float, ssim_ratio: float,
                   hit_min: float, hit_ratio: float) -> dict:
    """The quality bar per synthetic <-> real pair (both directions) for MedShift at ``tau``.

    A pair passes when, in the anatomy region, MedShift's SSIM and PSNR to the true target
    beat identity, histogram matching and SDEdit at the same tau; PSNR >= ``psnr_min`` dB;
    SSIM >= ``ssim_ratio`` x the autoencoder ceiling's (the true target's own
    reconstruction, scored the same way); and the exact-class hit rate is >= ``hit_min`` and
    >= ``hit_ratio`` x the classifier's accuracy on the true targets.

    Returns:
        {"pairs": {"source_to_target": {values, "fails": [names of failed parts],
        "pass": bool}}, "all_pairs_pass": bool}.
    """
    out = {}
    cross = pairs[pairs["group"].isin(("synthetic_to_real", "real_to_synthetic"))]
    for (source, target), g in cross.groupby(["source", "target"]):
        by = {r["config"]: r for _, r in g.iterrows()}
        ours, ceiling = by.get(f"medshift@{tau:g}"), by.get(CEILING)
        if ours is None:
            continue
        rivals = [c for c in ("identity", "histmatch", f"sdedit@{tau:g}") if c in by]
        margins = {m: float(ours[m] - max(by[c][m] for c in rivals))
                   for m in ("ssim_target_anatomy", "psnr_target_anatomy")}
        ssim_ceiling = float(ceiling["ssim_target_anatomy"]) if ceiling is not None else np.nan
        ratio = float(ours["ssim_target_anatomy"]) / ssim_ceiling
        hit, hit_ceiling = float(ours["class_hit"]), float(ours["class_hit_ceiling"])
        fails = [name for name, ok in (
            ("beats_rivals_ssim", margins["ssim_target_anatomy"] > 0),
            ("beats_rivals_psnr", margins["psnr_target_anatomy"] > 0),
            ("psnr_min", float(ours["psnr_target_anatomy"]) >= psnr_min),
            ("ssim_vs_ceiling", bool(ratio >= ssim_ratio)),
            ("hit_min", hit >= hit_min),
            ("hit_vs_ceiling", hit >= hit_ratio * hit_ceiling)) if not ok]
        out[f"{source}_to_{target}"] = {
            "psnr_target_anatomy": float(ours["psnr_target_anatomy"]),
            "ssim_vs_ceiling": ratio, "class_hit": hit, "class_hit_ceiling": hit_ceiling,
            "margin_ssim": margins["ssim_target_anatomy"],
            "margin_psnr": margins["psnr_target_anatomy"], "fails": fails,
            "pass": not fails}
    return {"pairs": out, "all_pairs_pass": bool(out) and all(v["pass"] for v in out.values())}


HEADLINE = ("ssim_source", "psnr_target_anatomy", "ssim_target_anatomy",
            "psnr_clean_anatomy", "fd", "kid", "coverage", "mmd", "nps", "class_hit",
            "class_hit_ceiling", "rank")


def headline(group_ranked: pd.DataFrame, groups: tuple[str, ...]) -> dict:
    """{group: {method: {metric: value}}} at the headline tau (methods without '@tau')."""
    out: dict = {}
    for group in groups:
        g = group_ranked[group_ranked["group"] == group]
        out[group] = {r["method"]: {m: _num(r.get(m)) for m in HEADLINE if m in r}
                      for _, r in g.iterrows()}
    return out


def _num(value) -> float | None:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return round(float(value), 5)
