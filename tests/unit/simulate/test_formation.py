"""Detector physics against closed form, class signatures (SIMULATOR.md §10 items 6-8)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from medshift.evaluation.texture import mtf_edge, nps2d
from medshift.simulate.classes import PRESET_CLASSES, ImageParams
from medshift.simulate.formation import (
    ELECTRONIC_VAR_PER_MM2,
    SWANK,
    detect,
    detector_mtf,
    render_synthetic,
)
from medshift.simulate.geometry import ViewGeometry
from medshift.simulate.signatures import edge_phantom

FLAT = ImageParams(80.0, 0.4, 35.0, 1.0, 0.3, 1.0, 1.0, 0.0)


def _geom(side_cm=36.0):
    return ViewGeometry("PA", 0.0, 0.0, 115.0, side_cm, (0, 0, 0), (0, 0, 0, 0))


@pytest.mark.parametrize("name", ["real_low", "real_normal", "real_exposure"])
def test_flat_field_low_frequency_nps_matches_quantum_plus_electronic(name):
    spec, n = PRESET_CLASSES[name], 256
    geom = dataclasses.replace(_geom(), head_offset_cm=(0, 0, 0))
    expected = np.full((n, n), 0.05)
    roi = np.ones((n, n), bool)
    det = detect(expected, geom, spec, FLAT, np.ones((n, n)), roi, np.random.default_rng(0))
    centre = slice(96, 160)  # heel gain ~1 here
    q = det.noisy[centre, centre]
    q_mean = det.mean_quanta[centre, centre].mean()
    nps, f, _ = nps2d(q, roi=32, step=16)
    fx, fy = np.meshgrid(f, f)
    low = (np.hypot(fx, fy) < 0.1) & (np.hypot(fx, fy) > 0)
    measured = nps[low].mean()
    electronic = ELECTRONIC_VAR_PER_MM2 * 0.365**2 / spec.n_eff
    predicted = q_mean / (SWANK * spec.n_eff) + electronic
    assert measured == pytest.approx(predicted, rel=0.10)


def test_unprocessed_exposure_edge_mtf_matches_detector_model():
    spec, n = PRESET_CLASSES["real_exposure"], 256
    geom = _geom(side_cm=5.0)  # 0.195 mm pixels so 1 cyc/mm is resolved
    px = geom.pixel_mm(n)
    maps = edge_phantom(n)
    from medshift.simulate.formation import polyenergetic_transmission
    from medshift.simulate.tables import load_tables

    tables = load_tables()
    transmission = polyenergetic_transmission(maps, tables.spectrum(80, 0.1) * tables.energy_kev,
                                              tables)
    det = detect(transmission, geom, spec, FLAT, np.ones((n, n)), np.ones((n, n), bool),
                 np.random.default_rng(0))
    f, mtf = mtf_edge(det.clean[32:-32, 32:-32], px)
    measured = float(np.interp(1.0, f, mtf))
    model = 1 / (1 + (1 / 1.29) ** 2) * abs(np.sinc(0.154 * 1.0))
    assert measured == pytest.approx(model, abs=0.05)
    assert detector_mtf(n, px, 0.154)[0, 0] == pytest.approx(1.0)


def test_synthetic_classes_differ_only_in_noise():
    maps = edge_phantom(64)
    head = np.ones((64, 64), bool)
    lo = render_synthetic(maps, PRESET_CLASSES["syn_low"], dataclasses.replace(
        FLAT, noise_sigma=0.035), head, np.random.default_rng(1))
    hi = render_synthetic(maps, PRESET_CLASSES["syn_high"], dataclasses.replace(
        FLAT, noise_sigma=0.015), head, np.random.default_rng(1))
    np.testing.assert_array_equal(lo.clean, hi.clean)
    # 8-bit frame buffer stored x16 in 12 bits: a comb histogram
    assert np.all(lo.stored % 16 == 0)
    ratio = (lo.display - lo.clean)[8:-8, 8:-8].std() / (hi.display - hi.clean)[8:-8, 8:-8].std()
    assert ratio == pytest.approx(2.3, rel=0.12)


def test_class_signatures_are_ordered_and_separable(tiny_sim_config, tmp_path):
    from medshift.simulate.dataset import simulate_dataset
    from medshift.simulate.report import summarise

    cfg = tiny_sim_config(subjects=2, size=128, views=("PA", "LAT_R", "TOWNE"))
    summary = summarise([r["record"] for r in simulate_dataset(cfg, tmp_path, progress=False)])
    sigma = {c: v["sigma"]["mean"] for c, v in summary["per_class"].items()}
    assert sigma["real_low"] > sigma["real_normal"] > sigma["real_exposure"]
    assert sigma["syn_low"] / sigma["syn_high"] == pytest.approx(2.3, rel=0.15)
    mtf = {c: v["mtf50"]["mean"] for c, v in summary["per_class"].items()}
    assert mtf["real_exposure"] > mtf["real_normal"] > mtf["real_low"]
    assert summary["linear_classifier_accuracy"]["overall"] > 0.9
