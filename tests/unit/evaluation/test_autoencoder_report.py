"""The autoencoder report: texture checks catch a denoiser; accuracy is averaged over draws."""

from __future__ import annotations

import numpy as np
import pytest

from medshift.evaluation.autoencoder_report import autoencoder_report

CLASSES = ("quiet", "noisy")


def _images(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Four flat 128 px images per class, noise sigma 0.01 and 0.04, and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], 4)
    sigma = np.where(labels == 0, 0.01, 0.04)[:, None, None, None]
    return (0.5 + sigma * rng.standard_normal((8, 1, 128, 128))).astype(np.float32), labels


def test_fresh_noise_of_the_right_level_passes_and_a_denoiser_fails():
    inputs, labels = _images(0)
    redrawn, _ = _images(1)  # same texture, other draws: what a good decoder gives
    report = autoencoder_report(inputs, redrawn, labels, CLASSES, labels, labels)
    assert all(report["checks"].values())
    for values in report["per_class"].values():
        assert values["noise_sigma_ratio"] == pytest.approx(1.0, abs=0.05)
        assert values["nps_relative_error"] < 0.1
    denoised = 0.5 + 0.3 * (inputs - 0.5)
    report = autoencoder_report(inputs, denoised, labels, CLASSES, labels, labels)
    assert report["per_class"]["noisy"]["noise_sigma_ratio"] == pytest.approx(0.3, abs=0.02)
    assert not report["checks"]["noise_sigma_within_tolerance"]


def test_accuracy_is_the_mean_over_noise_draws():
    inputs, labels = _images(0)
    recon = np.stack([inputs, inputs])
    # draw 0 loses two of the four noisy images, draw 1 none: 50 % and 100 %
    predicted = np.stack([np.array([0, 0, 0, 0, 0, 0, 1, 1]), labels])
    report = autoencoder_report(inputs, recon, labels, CLASSES, labels, predicted)
    noisy = report["per_class"]["noisy"]
    assert noisy["classifier_accuracy_recon_per_draw"] == [0.5, 1.0]
    assert noisy["classifier_accuracy_recon"] == 0.75
    assert report["noise_draws"] == 2
    assert not report["checks"]["classifier_drop_within_tolerance"]  # 25 points
    # a single draw, given without the draws axis, is the one-draw report
    single = autoencoder_report(inputs, inputs, labels, CLASSES, labels, labels)
    assert single["noise_draws"] == 1 and single["checks"]["classifier_drop_within_tolerance"]
    with pytest.raises(ValueError, match="do not match"):
        autoencoder_report(inputs, recon, labels, CLASSES, labels, labels)
