"""SSIM / PSNR against hand-computed cases and torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from medshift.evaluation.structure import PSNR_CAP, anatomy_mask, ssim_map, structure_scores


def _const(value: float, n: int = 1, size: int = 24) -> np.ndarray:
    return np.full((n, 1, size, size), value, np.float32)


def test_constant_images_give_the_luminance_term_and_the_hand_psnr():
    # zero variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1); MSE = (a - b)^2
    a, b, c1 = 0.5, 0.25, (0.01 * 1.0) ** 2
    s = structure_scores(_const(a), _const(b))
    assert s["ssim"][0] == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-5)
    assert s["psnr"][0] == pytest.approx(10 * np.log10(1 / 0.0625), rel=1e-6)


def test_identical_images_score_one_and_the_psnr_cap():
    x = np.random.default_rng(0).random((3, 1, 32, 32)).astype(np.float32)
    s = structure_scores(x, x)
    assert np.allclose(s["ssim"], 1.0, atol=1e-6)
    assert np.all(s["psnr"] == PSNR_CAP)


def test_ssim_map_matches_torchmetrics_and_psnr_matches_torchmetrics():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 40, 40, generator=gen)
    y = (x + 0.1 * torch.randn(4, 1, 40, 40, generator=gen)).clamp(0, 1)
    ours = ssim_map(x, y).flatten(1).mean(1)
    ref = structural_similarity_index_measure(x, y, data_range=1.0, reduction="none")
    assert torch.allclose(ours, ref, atol=1e-5)
    s = structure_scores(x.numpy(), y.numpy())
    ref_psnr = peak_signal_noise_ratio(x.double(), y.double(), data_range=1.0,
                                       reduction="none", dim=(1, 2, 3))
    assert np.allclose(s["psnr"], ref_psnr.numpy(), atol=1e-6)


def test_mask_restricts_psnr_to_its_pixels():
    x, y = _const(0.5, size=16), _const(0.5, size=16)
    y[0, 0, :, :8] = 0.6  # error 0.1 on the left half only
    left = np.zeros((1, 16, 16), bool)
    left[0, :, :8] = True
    assert structure_scores(x, y, left)["psnr"][0] == pytest.approx(20.0, rel=1e-4)
    assert structure_scores(x, y, ~left)["psnr"][0] == PSNR_CAP
    assert structure_scores(x, y)["psnr"][0] == pytest.approx(10 * np.log10(1 / 0.005),
                                                              rel=1e-4)
    assert np.isnan(structure_scores(x, y, np.zeros((1, 16, 16), bool))["psnr"][0])


def test_anatomy_is_the_intersection_of_both_fields():
    a = np.array([[[True, True, False]]])
    b = np.array([[[False, True, True]]])
    assert anatomy_mask(a, b).tolist() == [[[False, True, False]]]
