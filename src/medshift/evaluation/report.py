"""Writers for the evaluation: metrics.json (DVC metrics), plot CSVs, figures and the
markdown report. No math here: everything comes from an ``Evaluation``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from medshift.evaluation.evaluate import Evaluation
from medshift.evaluation.figures import nps_figure, sample_grid, tradeoff_figure
from medshift.evaluation.tables import TRANSLATORS
from medshift.io import write_csv, write_json

BENCH = "measured on the simulated benchmark"
COLUMNS = {  # table column -> (header, decimals)
    "ssim_source": ("SSIM src", 3), "psnr_source": ("PSNR src", 1),
    "ssim_target_anatomy": ("SSIM tgt", 3), "psnr_target_anatomy": ("PSNR tgt", 1),
    "ssim_clean_anatomy": ("SSIM clean", 3), "psnr_clean_anatomy": ("PSNR clean", 1),
    "psnr_target": ("PSNR tgt (whole)", 1), "lpips_target": ("LPIPS tgt", 3),
    "fd": ("FD", 2), "kid": ("KID", 4), "precision": ("P", 2), "recall": ("R", 2),
    "density": ("D", 2), "coverage": ("C", 2), "mmd": ("MMD", 4), "nps": ("NPS", 2),
    "class_hit": ("hit", 2), "class_hit_ceiling": ("hit ceiling", 2),
    "seconds": ("s/img", 3), "rank": ("avg rank", 2),
}


@dataclass(frozen=True)
class ReportPaths:
    """Where each output goes (dvc.yaml names them)."""

    metrics: Path
    plots: Path  # folder for tradeoff.csv and nps.csv
    figures: Path  # folder for tradeoff.png, nps.png and samples/
    report: Path
    table: Path  # every (pair, config) row as CSV


def write_all(ev: Evaluation, paths: ReportPaths, classes: tuple[str, ...],
              groups: tuple[str, ...], context: dict) -> None:
    """Write metrics, plots, figures and the report. ``context``: test-set size, reference
    splits, timings and other facts the report states."""
    head_tau = context["headline_tau"]
    write_json(paths.metrics, {"headline_tau": head_tau, "groups": ev.headline,
                               "checks": _check_metrics(ev.checks),
                               "default_tau": ev.default_tau,
                               "default": {"groups": ev.default,
                                           "checks": _check_metrics(ev.default_checks),
                                           "quality": _quality_metrics(ev.quality)},
                               "seconds": {k: round(v, 2) for k, v in
                                           context["seconds"].items()},
                               "translations": int(context["translations"])})
    # one row order whatever the order pairs were scored in (a set of classes is unordered)
    table = ev.pairs.sort_values(["source", "target", "method", "tau"], kind="stable")
    write_csv(paths.table, table.round(6))
    trade = ev.groups[ev.groups["method"].isin(TRANSLATORS)]
    write_csv(paths.plots / "tradeoff.csv", trade[[
        "group", "method", "tau", "ssim_source", "psnr_target_anatomy", "fd", "kid",
        "coverage", "class_hit"]].sort_values(["group", "method", "tau"]).round(6))
    write_csv(paths.plots / "nps.csv", _nps_frame(ev.nps))
    tradeoff_figure(ev.groups, groups, paths.figures / "tradeoff.png")
    nps_figure(ev.nps, classes, paths.figures / "nps.png")
    for pair, cols in ev.samples.items():
        sample_grid(cols, f"{pair.replace('_to_', ' -> ')} (test split, simulated benchmark)",
                    paths.figures / "samples" / f"{pair}.png")
    paths.report.parent.mkdir(parents=True, exist_ok=True)
    tmp = paths.report.with_name(f".{paths.report.name}.tmp")
    tmp.write_text(markdown(ev, groups, context, paths))
    tmp.replace(paths.report)


def _check_metrics(checks: dict) -> dict:
    out = {"all_pairs_pass": checks["all_pairs_pass"],
           "tradeoff_monotone": checks["tradeoff_monotone"]}
    for pair, c in checks["synthetic_to_real_pairs"].items():
        out[pair] = {"pass": c["pass"], "hit_ratio": _r(c["hit_ratio"]),
                     **{f"margin_{k}": _r(v) for k, v in c["margin"].items()}}
    return out


def _quality_metrics(quality: dict) -> dict:
    out: dict = {"all_pairs_pass": quality["all_pairs_pass"]}
    for pair, q in quality["pairs"].items():
        out[pair] = {k: (_r(v) if isinstance(v, float) else v) for k, v in q.items()}
    return out


def quality_lines(quality: dict, tau: float, cfg_text: str) -> list[str]:
    """The quality bar at the default tau as a table: one row per synthetic <-> real pair."""
    lines = [f"## Quality bar at the default τ = {tau:g}", "",
             f"Per synthetic ↔ real pair, MedShift in the anatomy region ({cfg_text}; "
             f"{BENCH}). Margins are over the best of identity, histogram matching and "
             f"SDEdit at the same τ.", "",
             "| pair | PSNR dB | SSIM / ceiling | hit | hit ceiling | SSIM margin | "
             "PSNR margin | fails |", "|---|---|---|---|---|---|---|---|"]
    for pair, q in quality["pairs"].items():
        lines.append(f"| {pair.replace('_to_', ' → ')} | {q['psnr_target_anatomy']:.1f} | "
                     f"{q['ssim_vs_ceiling']:.2f} | {q['class_hit']:.2f} | "
                     f"{q['class_hit_ceiling']:.2f} | {q['margin_ssim']:+.3f} | "
                     f"{q['margin_psnr']:+.2f} | {', '.join(q['fails']) or 'passes'} |")
    passed = sum(q["pass"] for q in quality["pairs"].values())
    lines += ["", f"{passed} of {len(quality['pairs'])} pairs pass."]
    return lines


def _r(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 4)


def _nps_frame(curves: dict[tuple[str, str], np.ndarray]) -> pd.DataFrame:
    rows = [{"target": t, "config": c, "frequency": round((k + 1) / (2.0 * len(v)), 6),
             "nps": float(x)} for (t, c), v in sorted(curves.items()) for k, x in enumerate(v)]
    return pd.DataFrame(rows, columns=["target", "config", "frequency", "nps"])


def _table(rows: pd.DataFrame, first: str = "config") -> str:
    cols = [c for c in COLUMNS if c in rows and rows[c].notna().any()]
    head = "| " + " | ".join([first] + [COLUMNS[c][0] for c in cols]) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for _, r in rows.iterrows():
        cells = [str(r[first])] + [_fmt(r[c], COLUMNS[c][1]) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value, decimals: int) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{decimals}f}"


def _order(rows: pd.DataFrame) -> pd.DataFrame:
    rank = {"identity": 0, "histmatch": 1, "sdedit": 2, "medshift": 3, "autoencoder": 4}
    return rows.assign(_o=rows["method"].map(rank)).sort_values(["_o", "tau"]).drop(columns="_o")


def markdown(ev: Evaluation, groups: tuple[str, ...], context: dict, paths: ReportPaths) -> str:
    """The report: summary, group and pair tables, figures, definitions, timings."""
    tau = context["headline_tau"]
    lines = [
        "# MedShift evaluation (simulated benchmark)", "",
        f"Every number below was {BENCH}: {context['test_images']} test images of "
        f"{context['test_subjects']} held-out subjects, every class rendered from the same "
        f"anatomy, so each translation has an aligned true target. Realism reference: "
        f"target-class images of the {'+'.join(context['reference_splits'])} split(s), in the "
        f"feature space of the pipeline's X-ray classifier (trained on the training split "
        f"only). {context['translations']} translations scored.", "",
        "## Summary", "", *summary(ev.headline, ev.checks, tau), "",
        *_tradeoff(ev.checks), "",
    ]
    if not np.isclose(ev.default_tau, tau):
        lines += [f"## Summary at the default τ = {ev.default_tau:g}", "",
                  f"The τ `medshift translate` and the served model use unless told "
                  f"otherwise (params.translate.tau); the headline above is τ = {tau:g}.", "",
                  *summary(ev.default, ev.default_checks, ev.default_tau), ""]
    q = context.get("config", {})
    lines += [*quality_lines(ev.quality, ev.default_tau,
                             f"bar: PSNR >= {q.get('quality_psnr_min', 22.0):g} dB, SSIM >= "
                             f"{q.get('quality_ssim_ratio', 0.95):g} x the autoencoder "
                             f"ceiling's, class hit >= {q.get('quality_hit_min', 0.8):g} and "
                             f">= {q.get('hit_ratio_required', 0.9):g} x its ceiling"), ""]
    rel = lambda p: Path(p).relative_to(paths.report.parent).as_posix()  # noqa: E731
    lines += ["## Figures", "",
              f"![trade-off]({rel(paths.figures / 'tradeoff.png')})", "",
              f"![noise power spectra]({rel(paths.figures / 'nps.png')})", "",
              "Sample grids (source | MedShift and SDEdit at each of their τ | histogram "
              "matching | true target): "
              + ", ".join(f"[{p}]({rel(paths.figures / 'samples' / (p + '.png'))})"
                          for p in ev.samples), ""]
    shown = tuple(dict.fromkeys((tau, ev.default_tau)))
    for t, table in sorted(ev.group_ranked.items(), key=lambda kv: (kv[0] not in shown, kv[0])):
        # the headline and default taus open; the rest of the grid folded, for reference
        folded = t not in shown
        lines += ([f"<details><summary>Averages over class pairs, τ = {t:g}</summary>", ""]
                  if folded else [f"## Averages over class pairs, τ = {t:g}", ""])
        for g in groups:
            rows = table[table["group"] == g]
            if rows.empty:
                continue
            lines += [f"**{g.replace('_', ' ')}** ({int(rows['pairs'].max())} pairs)", "",
                      _table(_order(rows)), ""]
        lines += ["</details>", ""] if folded else []
    for t in shown:
        pair_rows = ev.pair_ranked.get(t, next(iter(ev.pair_ranked.values())))
        lines += [f"<details><summary>Per class pair, τ = {t:g}</summary>", ""]
        for (s, g), rows in pair_rows.groupby(["source", "target"], sort=True):
            if not rows["method"].isin(TRANSLATORS).any():
                continue  # a pair translated at other taus only
            lines += [f"**{s} → {g}** ({int(rows['n'].max())} images)", "",
                      _table(_order(rows)), ""]
        lines += ["</details>", ""]
    lines += definitions(ev, context)
    return "\n".join(lines) + "\n"


def summary(head: dict, checks: dict, tau: float) -> list[str]:
    """Plain statements with numbers at one tau (``head`` and ``checks`` at that tau), each
    saying it was measured on the benchmark."""
    out = []
    for g, methods in head.items():
        ranks = {m: v.get("rank") for m, v in methods.items() if v.get("rank") is not None}
        if ranks:
            best = min(ranks, key=lambda m: ranks[m])
            out.append(f"- {g.replace('_', ' ')}, τ = {tau:g}: best average rank {best} "
                       f"({ranks[best]:.2f}); MedShift {_fmt(ranks.get('medshift'), 2)}, "
                       f"SDEdit {_fmt(ranks.get('sdedit'), 2)} ({BENCH}).")
        out += _versus(g, methods)
    for pair, c in checks["synthetic_to_real_pairs"].items():
        m = c["margin"]
        verdict = "meets" if c["pass"] else "misses"
        out.append(f"- {pair.replace('_to_', ' → ')}: MedShift {verdict} the bar: margin over "
                   f"the best rival SSIM {m['ssim_target_anatomy']:+.3f}, PSNR "
                   f"{m['psnr_target_anatomy']:+.2f} dB (anatomy region), FD "
                   f"{m['fd']:+.2f} (positive = MedShift better); class hits "
                   f"{_fmt(c['hit_ratio'], 2)} of the classifier's ceiling ({BENCH}).")
    return out


def _tradeoff(checks: dict) -> list[str]:
    """Whether SSIM to the source and FD rise with tau, per group and translator."""
    out = []
    for key, v in checks["tradeoff"].items():
        out.append(f"- trade-off {key}: SSIM to source "
                   f"{'rises' if v['ssim_source_rises'] else 'does NOT rise'} and FD "
                   f"{'rises' if v['fd_rises'] else 'does NOT rise'} and the class hit "
                   f"{'falls' if v['class_hit_falls'] else 'does NOT fall'} with τ ({BENCH}).")
    return out


def _versus(group: str, methods: dict) -> list[str]:
    """MedShift against the best rival on each headline metric of a group."""
    ours = methods.get("medshift")
    rivals = {m: v for m, v in methods.items() if m not in ("medshift", "autoencoder")}
    if not ours or not rivals:
        return []
    parts = []
    for metric, higher, label in (("psnr_target_anatomy", True, "PSNR to true target"),
                                  ("ssim_target_anatomy", True, "SSIM to true target"),
                                  ("fd", False, "FD"), ("coverage", True, "coverage"),
                                  ("nps", False, "NPS distance"), ("class_hit", True, "hits")):
        values = {m: v.get(metric) for m, v in rivals.items() if v.get(metric) is not None}
        if ours.get(metric) is None or not values:
            continue
        best = (max if higher else min)(values, key=lambda m: values[m])
        wins = ours[metric] > values[best] if higher else ours[metric] < values[best]
        parts.append(f"{label} {ours[metric]:.4g} vs {values[best]:.4g} ({best}; "
                     f"{'win' if wins else 'loss'})")
    return [f"  - MedShift vs the best rival, {group.replace('_', ' ')}: " + "; ".join(parts)
            + "."] if parts else []


def definitions(ev: Evaluation, context: dict) -> list[str]:
    lpips = ("LPIPS: not computed — " + ev.lpips_note) if ev.lpips_note else "LPIPS: computed."
    secs = ", ".join(f"{k} {v:.1f} s" for k, v in context["seconds"].items())
    return [
        "## What the columns mean", "",
        "- SSIM/PSNR src: against the source image (structure kept, as in the paper).",
        "- SSIM/PSNR tgt: against the aligned true target (same subject and view, target "
        "class), inside the anatomy region = pixels exposed in both the source's and the "
        "target's field (whole-image PSNR is also in the table CSV); clean: against the "
        "target class's noise-free render, same region.",
        "- FD, KID, P/R/D/C (k-NN, k=" + str(context["prdc_k"]) + "), MMD (Gaussian kernel, "
        "a stand-in for CMMD, not CMMD): translations against target-class images in the "
        "classifier's feature space. NPS: relative L1 distance of the mean high-pass noise "
        "power spectrum to the target class's.",
        "- hit: share classified as the exact target class; hit ceiling: the classifier's "
        "accuracy on the true targets themselves.",
        "- autoencoder: the ceiling, the true target's own reconstruction scored the same "
        "way (not ranked). avg rank: mean rank over the metrics (1 = best), as in the "
        "paper's Table 1; identity is trivially best on structure to the source.",
        f"- {lpips}", "",
        "## Timings", "",
        f"Evaluation stages: {secs}. Translation seconds per image (s/img) come from the "
        "translate stage's index.", "",
        *(["## Notes", "", *[f"- {n}" for n in ev.notes], ""] if ev.notes else []),
        "## Resolved params.evaluate", "", f"`{json.dumps(context.get('config', {}))}`", "",
    ]
