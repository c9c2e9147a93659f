"""The one texture-region definition: torch and numpy agree pixel for pixel."""

from __future__ import annotations

import numpy as np
import torch

from medshift.signal import TEXTURE_MARGIN, texture_mask, texture_region


def _image(seed: int) -> np.ndarray:
    """Noisy anatomy with saturated patches (collimator band, burnt-out spots)."""
    rng = np.random.default_rng(seed)
    img = np.clip(0.5 + 0.1 * rng.standard_normal((40, 56)), 0.05, 0.95)
    img[:, :6] = 1.0
    for _ in range(4):
        y, x = rng.integers(0, 40), rng.integers(0, 56)
        img[y:y + rng.integers(1, 4), x:x + rng.integers(1, 4)] = rng.choice([0.0, 1.0])
    return img


def test_texture_region_torch_and_numpy_agree():
    for seed in range(6):
        img = _image(seed)
        region = texture_region(torch.from_numpy(img)[None, None])[0, 0].numpy()
        assert set(np.unique(region)) <= {0.0, 1.0}
        assert np.array_equal(region.astype(bool), texture_mask(img)), seed


def test_texture_region_is_a_square_margin_that_excludes_the_border():
    img = np.full((21, 21), 0.5)
    img[10, 10] = 1.0  # one saturated pixel
    mask = texture_mask(img)
    m = TEXTURE_MARGIN
    assert not mask[10 + m, 10 + m]  # diagonal neighbours within the margin: out (square)
    assert mask[10 + m + 1, 10]
    assert not mask[:m].any() and not mask[:, -m:].any()  # filters there see padding
    assert mask[m, m + 2]
