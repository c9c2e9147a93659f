"""Group means, Table-1 ranks and the acceptance checks on hand-made rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medshift.evaluation.tables import (
    add_groups,
    checks,
    group_means,
    headline,
    quality_checks,
    ranked,
)


def _row(source, target, method, tau, **metrics):
    config = method if np.isnan(tau) else f"{method}@{tau:g}"
    base = {"ssim_target_anatomy": 0.5, "psnr_target_anatomy": 20.0, "fd": 5.0,
            "ssim_source": 0.5, "class_hit": 0.9, "class_hit_ceiling": 1.0}
    return {"source": source, "target": target, "config": config, "method": method,
            "tau": tau, "n": 10, **(base | metrics)}


@pytest.fixture
def pairs():
    nan = np.nan
    rows = []
    for target, ours_psnr in (("real_low", 25.0), ("real_normal", 18.0)):
        rows += [_row("syn_low", target, "identity", nan, ssim_source=1.0),
                 _row("syn_low", target, "histmatch", nan, fd=4.0),
                 _row("syn_low", target, "autoencoder", nan, psnr_target_anatomy=40.0),
                 _row("syn_low", target, "sdedit", 0.45, fd=3.0, ssim_source=0.6),
                 _row("syn_low", target, "medshift", 0.45, psnr_target_anatomy=ours_psnr,
                      ssim_target_anatomy=0.7, fd=2.0, ssim_source=0.55),
                 _row("syn_low", target, "medshift", 0.3, fd=1.0, ssim_source=0.4,
                      class_hit=0.95),
                 _row("syn_low", target, "medshift", 0.6, fd=3.0, ssim_source=0.7,
                      class_hit=0.5)]
    domains = {"syn_low": "synthetic", "real_low": "real", "real_normal": "real"}
    return add_groups(pd.DataFrame(rows), domains)


def test_checks_report_margins_and_failures(pairs):
    out = checks(pairs, group_means(pairs), 0.45, 0.9)
    low = out["synthetic_to_real_pairs"]["syn_low_to_real_low"]
    assert low["margin"] == pytest.approx({"ssim_target_anatomy": 0.2,
                                           "psnr_target_anatomy": 5.0, "fd": 1.0})
    assert low["hit_ratio"] == pytest.approx(0.9) and low["pass"]
    normal = out["synthetic_to_real_pairs"]["syn_low_to_real_normal"]
    assert normal["margin"]["psnr_target_anatomy"] == pytest.approx(-2.0)
    assert not normal["pass"] and not out["all_pairs_pass"]
    assert out["tradeoff"]["synthetic_to_real/medshift"] == {
        "ssim_source_rises": True, "fd_rises": True, "class_hit_falls": True}
    assert out["tradeoff_monotone"]


def test_a_class_hit_that_does_not_fall_with_tau_breaks_the_tradeoff(pairs):
    pairs.loc[pairs["config"] == "medshift@0.6", "class_hit"] = 0.92  # 0.95, 0.9, 0.92
    out = checks(pairs, group_means(pairs), 0.45, 0.9)
    assert out["tradeoff"]["synthetic_to_real/medshift"]["class_hit_falls"] is False
    assert not out["tradeoff_monotone"]


def test_ranks_leave_the_ceiling_out_and_headline_lists_methods(pairs):
    groups = group_means(pairs)
    assert groups.loc[groups["config"] == "medshift@0.45", "psnr_target_anatomy"].item() == 21.5
    table = ranked(groups, ["group"], 0.45)
    assert set(table["config"]) == {"identity", "histmatch", "autoencoder", "sdedit@0.45",
                                    "medshift@0.45"}
    assert np.isnan(table.loc[table["method"] == "autoencoder", "rank"]).all()
    head = headline(table, ("synthetic_to_real",))["synthetic_to_real"]
    assert head["medshift"]["rank"] == min(v["rank"] for k, v in head.items()
                                           if v.get("rank") is not None)


def test_quality_bar_names_each_failed_part(pairs):
    """real_low: PSNR 25 >= 22, SSIM .7 / ceiling .5 >= .95, hit .9: passes; real_normal:
    PSNR 18 (below 22 and below the rivals' 20) fails those two parts only."""
    out = quality_checks(pairs, 0.45, psnr_min=22.0, ssim_ratio=0.95, hit_min=0.8,
                         hit_ratio=0.9)
    low = out["pairs"]["syn_low_to_real_low"]
    assert low["pass"] and low["fails"] == []
    assert low["ssim_vs_ceiling"] == pytest.approx(0.7 / 0.5)
    assert low["margin_psnr"] == pytest.approx(5.0)
    normal = out["pairs"]["syn_low_to_real_normal"]
    assert normal["fails"] == ["beats_rivals_psnr", "psnr_min"]
    assert not out["all_pairs_pass"]
    strict = quality_checks(pairs, 0.45, psnr_min=22.0, ssim_ratio=0.95, hit_min=0.95,
                            hit_ratio=0.9)
    assert "hit_min" in strict["pairs"]["syn_low_to_real_low"]["fails"]
