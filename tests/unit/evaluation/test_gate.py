"""The registry gate's decisions on known scores, its slice of a split, and its sanity
checks (pure functions; the stage itself is tested in tests/integration/test_registry.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medshift.evaluation.gate import (
    GateScores,
    floor_reasons,
    gate_reasons,
    gate_set,
    sanity_reasons,
)


def test_gate_needs_fd_gain_and_tolerates_a_small_ssim_drop():
    prod = GateScores(ssim=0.60, fd=100.0, outputs=96)
    assert gate_reasons(GateScores(0.595, 97.9, 96), prod, 0.01, 0.02) == {}
    assert set(gate_reasons(GateScores(0.60, 98.5, 96), prod, 0.01, 0.02)) == {"fd"}
    assert set(gate_reasons(GateScores(0.58, 50.0, 96), prod, 0.01, 0.02)) == {"ssim"}
    assert set(gate_reasons(GateScores(float("nan"), float("nan"), 96), prod, 0.01,
                            0.02)) == {"ssim", "fd"}  # NaN never passes
    assert gate_reasons(GateScores(None, 90.0, 96), prod, 0.01, 0.02) == {}


def test_floors_of_a_first_version():
    assert floor_reasons(GateScores(0.6, 175.0, 96), 0.5, 300.0) == {}
    reasons = floor_reasons(GateScores(0.4, 529.0, 96), 0.5, 300.0)
    assert set(reasons) == {"floor_ssim", "floor_fd"} and "0.4000 < floor 0.5" in \
        reasons["floor_ssim"]


def test_sanity_checks_name_each_failure():
    x = np.full((2, 1, 8, 8), 0.5, np.float32)
    assert sanity_reasons(x, x.copy(), x.shape) == {}
    assert set(sanity_reasons(x[:1], x[:1], x.shape)) == {"sanity_shape"}
    nan = x.copy()
    nan[0, 0, 0, 0] = np.nan
    assert set(sanity_reasons(nan, nan.copy(), x.shape)) == {"sanity_finite"}
    assert set(sanity_reasons(x * 3, x * 3, x.shape)) == {"sanity_range"}
    assert set(sanity_reasons(x, x + 1e-6, x.shape)) == {"sanity_determinism"}


def test_gate_set_takes_the_first_images_per_source_class_with_aligned_targets():
    domains = {"syn": "synthetic", "real_a": "real", "real_b": "real"}
    rows = pd.DataFrame([{"image_id": f"{c}{s}", "subject_id": s, "view": "PA",
                          "class_name": c} for s in range(3) for c in domains
                         if not (c == "real_b" and s == 2)])
    images = np.random.default_rng(0).random((len(rows), 1, 4, 4)).astype(np.float32)
    fields = np.ones((len(rows), 4, 4), bool)
    fields[rows.index[rows.image_id == "real_a0"][0], 0] = False
    gs = gate_set(rows, images, fields, domains, "synthetic", "real", per_class=3)
    assert gs.keys == ("syn0", "syn1", "syn2") and gs.targets == ("real_a", "real_b")
    k = rows.index[rows.image_id == "real_a1"][0]
    np.testing.assert_array_equal(gs.truth[1, 0], images[k])
    assert np.isnan(gs.truth[2, 1]).all()  # subject 2 has no real_b image
    assert not gs.masks[0, 0, 0].any() and gs.masks[0, 1].all()
    with pytest.raises(ValueError, match="no synthetic -> film classes"):
        gate_set(rows, images, fields, domains, "synthetic", "film", 3)
