"""The translate stage's plan and its on-disk store."""

from __future__ import annotations

import numpy as np
import pytest

from medshift.config.base import ConfigError
from medshift.config.translate import TranslateConfig
from medshift.translation.plan import baseline_plan, translation_plan
from medshift.translation.store import (
    group_file,
    load_images,
    read_index,
    to_uint16,
    write_group,
    write_index,
)

DOMAINS = {"syn_low": "synthetic", "syn_high": "synthetic", "real_low": "real",
           "real_normal": "real", "real_exposure": "real"}


def test_plan_is_every_ordered_pair_plus_cross_domain_taus():
    plan = translation_plan(DOMAINS, [0.45], [0.3, 0.45, 0.6])
    assert len(plan) == 20 + 12 * 2  # 0.45 shared; 2 x 3 x 2 cross pairs at 0.3 and 0.6
    assert all(p.source != p.target for p in plan)
    cross = {(p.source, p.target) for p in plan if p.tau == 0.3}
    assert ("syn_high", "real_normal") in cross and ("real_low", "syn_low") in cross
    assert not any(DOMAINS[s] == DOMAINS[t] for s, t in cross)
    assert plan == sorted(plan) and len(set(plan)) == len(plan)


def test_the_baseline_runs_the_cross_domain_pairs_at_its_taus_only():
    """params.yaml's grid: every pair at the default 0.2, cross pairs also at 0.3/0.45/0.6;
    SDEdit at 0.2 and 0.45 across domains: 24 of the 56 pairs."""
    cfg = TranslateConfig()
    plan = translation_plan(DOMAINS, cfg.taus, cfg.cross_domain_taus)
    assert len(plan) == 20 + 12 * 3
    base = baseline_plan(plan, DOMAINS, cfg.sdedit_taus)
    assert len(base) == 12 * 2 and {p.tau for p in base} == {0.2, 0.45}
    assert all(DOMAINS[p.source] != DOMAINS[p.target] for p in base) and set(base) <= set(plan)


def test_store_round_trip_in_index_order(tmp_path):
    a = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    b = np.random.default_rng(1).random((2, 1, 8, 8)).astype(np.float32)
    fa, fb = group_file("medshift", 0.45, "x", "y"), group_file("sdedit", 0.3, "y", "x")
    assert fa == "medshift/tau0.45/x__y.npy"
    write_group(tmp_path, fa, a)
    write_group(tmp_path, fb, b)
    rows = [{"image_id": f"i{k}", "file": f, "row": r} for k, (f, r) in
            enumerate([(fb, 1), (fa, 2), (fa, 0), (fb, 0)])]
    index = write_index(tmp_path, rows)
    assert list(read_index(tmp_path).columns) == list(index.columns)
    got = load_images(tmp_path, read_index(tmp_path))
    expected = np.stack([b[1], a[2], a[0], b[0]])
    np.testing.assert_allclose(got, expected, atol=0.5 / 65535)
    assert not list(tmp_path.rglob(".*tmp"))


def test_uint16_quantisation_clips_and_rounds():
    x = np.array([[-0.1, 0.0, 0.5, 1.0, 1.2]])
    assert to_uint16(x[None]).tolist() == [[[0, 0, 32768, 65535, 65535]]]


def test_missing_index_names_the_stage(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the translate stage"):
        read_index(tmp_path)


@pytest.mark.parametrize(("values", "message"), [
    ({"taus": [0.0]}, "taus must be numbers"), ({"methods": ["cyclegan"]}, "methods"),
    ({"solver": "rk45"}, "solver"), ({"unknown_key": 1}, "unknown keys")])
def test_translate_config_rejects_bad_values(values, message):
    with pytest.raises(ConfigError, match=message):
        TranslateConfig.from_params(values)
