"""Realism metrics: self-distances, closed forms for shifted Gaussians, hand-made k-NN cases."""

from __future__ import annotations

import numpy as np
import pytest

from medshift.evaluation.distribution import (
    frechet_distance,
    gaussian_mmd,
    kernel_inception_distance,
    median_bandwidth,
    prdc,
)


def _gauss(n: int, mean, scale, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.asarray(mean) + np.asarray(scale) * rng.standard_normal((n, len(mean)))


def test_fd_of_a_set_against_itself_is_zero():
    x = _gauss(500, [0, 1, 2], [1, 2, 0.5], 0)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_fd_of_shifted_gaussians_matches_the_closed_form():
    # independent coordinates: d^2 = |mu1 - mu2|^2 + sum (s1 - s2)^2
    m1, m2, s1, s2 = [0, 0, 0], [1.0, -0.5, 0], [1.0, 1.0, 2.0], [1.0, 1.5, 1.0]
    expected = 1.0 + 0.25 + (0.5**2 + 1.0**2)
    fd = frechet_distance(_gauss(20_000, m1, s1, 1), _gauss(20_000, m2, s2, 2))
    assert fd == pytest.approx(expected, rel=0.03)


def _poly_kernel_mean(a: float, b: float, s: float, d: int) -> float:
    """E (x.y / d + 1)^3 for independent x ~ N(a 1, s^2 I), y ~ N(b 1, s^2 I) in d dims."""
    m1 = a * b                                   # E x_i y_i
    m2 = (a * a + s * s) * (b * b + s * s)       # E (x_i y_i)^2
    m3 = (a**3 + 3 * a * s * s) * (b**3 + 3 * b * s * s)
    e1 = m1
    e2 = (d * m2 + d * (d - 1) * m1**2) / d**2
    e3 = (d * m3 + 3 * d * (d - 1) * m2 * m1 + d * (d - 1) * (d - 2) * m1**3) / d**3
    return e3 + 3 * e2 + 3 * e1 + 1


def test_kid_of_shifted_gaussians_matches_the_closed_form_and_self_is_zero():
    d, s, a, b = 16, 1.0, 0.0, 0.5  # 16 dims: x.y / d averages, the estimate's spread is ~4 %
    x, y = _gauss(1500, [a] * d, [s] * d, 3), _gauss(1500, [b] * d, [s] * d, 4)
    expected = (_poly_kernel_mean(a, a, s, d) + _poly_kernel_mean(b, b, s, d)
                - 2 * _poly_kernel_mean(a, b, s, d))
    kid, _ = kernel_inception_distance(x, y, subsets=1, subset_size=1500)
    assert kid == pytest.approx(expected, rel=0.12)
    self_kid, _ = kernel_inception_distance(x, x, subsets=10, subset_size=500)
    # shared points enter the cross term, so the self value is slightly negative: ~0
    assert abs(self_kid) < 0.02 * expected


def test_kid_is_reproducible_for_a_seed():
    x, y = _gauss(50, [0, 0], [1, 1], 5), _gauss(40, [1, 0], [1, 1], 6)
    assert kernel_inception_distance(x, y, seed=3) == kernel_inception_distance(x, y, seed=3)


def test_prdc_hand_computed_one_dimensional_case():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[0.5], [10.0], [11.0]])
    # k = 1: real radii 1, 1, 1, 1; fake radii 9.5, 1, 1
    out = prdc(real, fake, k=1)
    assert out["precision"] == pytest.approx(1 / 3)   # only 0.5 lies in a real ball
    assert out["recall"] == pytest.approx(1.0)        # the 9.5 ball at 0.5 covers all reals
    assert out["density"] == pytest.approx(2 / 3)     # 0.5 lies in the balls of 0 and 1
    assert out["coverage"] == pytest.approx(0.5)      # 0 and 1 have 0.5 strictly inside


def test_coverage_of_a_set_against_itself_is_one():
    x = _gauss(80, [0, 0, 0], [1, 1, 1], 7)
    out = prdc(x, x, k=5)
    assert out["coverage"] == 1.0 and out["precision"] == 1.0 and out["recall"] == 1.0


def test_prdc_needs_more_points_than_k():
    with pytest.raises(ValueError, match="more than k=5"):
        prdc(np.zeros((5, 2)), np.zeros((10, 2)), k=5)


def test_gaussian_mmd_hand_computed():
    # reals {0, 1}, fakes {0, 2}, s = 1: k(0,1) = e^-1/2, k(0,2) = e^-2, k(1,2) = e^-1/2
    real, fake = np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]])
    e = np.exp
    cross = (1 + e(-2) + e(-0.5) + e(-0.5)) / 4
    expected = e(-0.5) + e(-2) - 2 * cross
    assert gaussian_mmd(real, fake, 1.0) == pytest.approx(expected, rel=1e-12)
    assert median_bandwidth(np.array([[0.0], [1.0], [3.0]])) == pytest.approx(2.0)
