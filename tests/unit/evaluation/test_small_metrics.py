"""Texture distance, baselines, ranks, class hits and LPIPS availability."""

from __future__ import annotations

import numpy as np
import pytest

from medshift.evaluation.baselines import class_quantiles, histogram_match
from medshift.evaluation.classification import hit_rate
from medshift.evaluation.perceptual import lpips_unavailable
from medshift.evaluation.ranks import average_ranks
from medshift.evaluation.texture import mean_highpass_nps, nps2d, nps_distance


def _nps_loop(img, roi, step, mask):
    """The per-ROI projector form nps2d had before batching (the definition)."""
    yy, xx = np.mgrid[0:roi, 0:roi] / roi
    basis = np.stack([b.ravel() for b in (np.ones_like(xx), xx, yy, xx * xx, yy * yy,
                                          xx * yy)], 1)
    proj = basis @ np.linalg.pinv(basis)
    acc, count = np.zeros((roi, roi)), 0
    for y in range(0, img.shape[0] - roi + 1, step):
        for x in range(0, img.shape[1] - roi + 1, step):
            if mask[y:y + roi, x:x + roi].all():
                r = img[y:y + roi, x:x + roi].ravel()
                acc += np.abs(np.fft.fft2((r - proj @ r).reshape(roi, roi))) ** 2
                count += 1
    return np.fft.fftshift(acc / roi**2 / count), count


def test_batched_nps_equals_the_per_roi_definition():
    img = np.random.default_rng(0).random((64, 64))
    mask = np.ones((64, 64), bool)
    mask[:20, :30] = False
    nps, _, count = nps2d(img, 16, 8, 1.0, mask)
    ref, ref_count = _nps_loop(img, 16, 8, mask)
    assert count == ref_count and np.allclose(nps, ref, rtol=1e-10)


def test_nps_distance_is_relative_l1_and_white_noise_levels_differ():
    assert nps_distance(np.array([2.0, 1.0, 5.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)
    rng = np.random.default_rng(1)
    masks = [np.ones((64, 64), bool)] * 3
    low = mean_highpass_nps(0.5 + 0.01 * rng.standard_normal((3, 1, 64, 64)), masks)
    high = mean_highpass_nps(0.5 + 0.02 * rng.standard_normal((3, 1, 64, 64)), masks)
    assert nps_distance(high, low) == pytest.approx(3.0, rel=0.15)  # power ratio 4
    assert mean_highpass_nps(np.zeros((1, 1, 64, 64)), [np.zeros((64, 64), bool)]) is None


def test_histogram_matching_takes_the_reference_distribution():
    rng = np.random.default_rng(2)
    ref = class_quantiles(rng.random((4, 1, 32, 32)) ** 2)
    out = histogram_match(rng.random((2, 1, 32, 32)).astype(np.float32), ref)
    assert out.shape == (2, 1, 32, 32) and out.dtype == np.float32
    # the median of u^2 for uniform u is 1/4
    assert np.median(out) == pytest.approx(0.25, abs=0.02)
    # monotone: the ordering of grey levels is kept
    src = rng.random((1, 1, 16, 16)).astype(np.float32)
    matched = histogram_match(src, ref)
    order = np.argsort(src.ravel())
    assert np.all(np.diff(matched.ravel()[order]) >= -1e-7)


def test_average_ranks_with_directions_ties_and_missing_values():
    scores = {"a": {"ssim": 0.9, "fd": 3.0, "lpips": None},
              "b": {"ssim": 0.8, "fd": 1.0, "lpips": None},
              "c": {"ssim": 0.9, "fd": 2.0, "lpips": None}}
    ranks = average_ranks(scores, {"ssim": True, "fd": False, "lpips": False})
    assert ranks["a"] == {"ssim": 1.5, "fd": 3.0, "average": 2.25}
    assert ranks["b"] == {"ssim": 3.0, "fd": 1.0, "average": 2.0}
    assert ranks["c"]["average"] == pytest.approx(1.75)


def test_hit_rate():
    assert hit_rate(np.array([2, 2, 1, 2]), 2) == 0.75
    assert hit_rate(np.array([0, 1]), np.array([0, 0])) == 0.5
    assert np.isnan(hit_rate(np.array([], int), 1))


def test_lpips_is_unavailable_without_local_weights(tmp_path):
    assert "no torch cache path" in lpips_unavailable(None)
    assert "no alex ImageNet backbone weights" in lpips_unavailable(str(tmp_path))
    assert "unknown LPIPS backbone" in lpips_unavailable(str(tmp_path), "resnet")
    weights = tmp_path / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"x")
    reason = lpips_unavailable(str(tmp_path))
    try:
        import lpips  # noqa: F401
        assert reason is None
    except ImportError:
        assert "lpips package is not installed" in reason


def test_reference_stats_round_trip_and_normalise(tmp_path):
    import torch

    from medshift.evaluation.reference import ReferenceStats, build_reference
    from medshift.models.classifier import DomainClassifier

    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    images = rng.random((8, 1, 32, 32)).astype(np.float32)
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    stats = build_reference(DomainClassifier(2).eval(), ("a", "b"), images, labels,
                            np.ones((8, 32, 32), bool), images, labels, roi=16)
    pooled = np.concatenate([stats.features["a"], stats.features["b"]])
    assert np.allclose(pooled.mean(0), 0, atol=1e-9)
    assert np.sqrt((pooled**2).mean()) == pytest.approx(1.0)
    stats.save(tmp_path / "ref.npz")
    back = ReferenceStats.load(tmp_path / "ref.npz")
    assert back.classes == ("a", "b") and back.scale == stats.scale
    assert np.array_equal(back.features["b"], stats.features["b"])
    assert np.array_equal(back.quantiles["a"], stats.quantiles["a"])
    assert back.bandwidth == stats.bandwidth
    assert np.allclose(back.normalise(back.center[None] + back.scale), 1.0)
