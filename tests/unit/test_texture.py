"""NPS and MTF measurement against closed-form answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from medshift.evaluation.texture import mtf50, mtf_edge, nps2d, nps_centroid, radial_nps


def test_white_noise_nps_level_and_parseval():
    rng = np.random.default_rng(0)
    img = rng.normal(0, 2.0, (256, 256))
    nps, f, count = nps2d(img, roi=64, step=32, pixel_mm=0.5)
    df = f[1] - f[0]
    assert count == 49
    assert nps.sum() * df * df == pytest.approx(4.0, rel=0.05)
    assert nps.mean() == pytest.approx(4.0 * 0.25, rel=0.05)


def test_low_pass_noise_has_lower_centroid_than_white():
    rng = np.random.default_rng(1)
    white = rng.normal(size=(256, 256))
    smooth = ndimage.gaussian_filter(white, 1.5)
    centroids = [nps_centroid(*radial_nps(*nps2d(x, 64, 32)[:2])) for x in (white, smooth)]
    assert centroids[1] < 0.7 * centroids[0]


def test_mtf_of_blurred_tilted_edge_matches_gaussian():
    n, sigma = 128, 1.5
    yy, xx = np.mgrid[0:n, 0:n] - n / 2
    edge = (xx * np.cos(np.radians(3)) - yy * np.sin(np.radians(3)) > 0).astype(float)
    fine = np.kron(edge, np.ones((1, 1)))
    blurred = ndimage.gaussian_filter(fine, sigma)
    f, mtf = mtf_edge(blurred)
    analytic = np.exp(-2 * (np.pi * sigma * f) ** 2)
    sel = (f > 0.05) & (f < 0.2)
    np.testing.assert_allclose(mtf[sel], analytic[sel], atol=0.03)
    assert mtf50(f, mtf) == pytest.approx(np.sqrt(np.log(2) / 2) / (np.pi * sigma), rel=0.05)


def test_nps_requires_a_roi_inside_the_mask():
    with pytest.raises(ValueError, match="no 64x64 ROI"):
        nps2d(np.zeros((64, 64)), 64, 32, mask=np.zeros((64, 64), bool))
