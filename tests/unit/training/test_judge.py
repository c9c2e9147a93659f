"""The domain classifier with texture statistics: closed forms, training, export."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from medshift.models.texture_stats import DILATIONS, n_statistics, texture_statistics
from medshift.signal import IMMERKAER


def _dilated_immerkaer(d: int) -> np.ndarray:
    kernel = np.zeros((2 * d + 1, 2 * d + 1))
    kernel[::d, ::d] = IMMERKAER / 6.0
    return kernel


def test_white_noise_reads_its_log_std_in_every_band_quantile_and_intensity_bin():
    gen = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0.2, 0.8, 256).expand(3, 1, 256, 256)
    x = ramp + 0.02 * torch.randn(3, 1, 256, 256, generator=gen)
    stats = texture_statistics(x, bins=3)
    assert stats.shape == (3, n_statistics(bins=3))
    logs, means = stats[:, :-3], stats[:, -3:]
    assert torch.allclose(logs, torch.full_like(logs, math.log(0.02)), atol=0.04)
    # equal-count bins of a ramp over the region (4-px border left out): its thirds' means
    inner = torch.linspace(0.2, 0.8, 256)[4:-4]
    thirds = torch.tensor([t.mean() for t in inner.chunk(3)])
    assert torch.allclose(means, thirds.expand(3, 3), atol=0.01)


def test_correlated_noise_reads_the_filtered_kernels_norm():
    # noise blurred by a 2x2 box h has response std s * ||K_d * h||_2 in band d (closed form)
    from scipy.signal import convolve2d

    gen = torch.Generator().manual_seed(1)
    white = 0.03 * torch.randn(2, 1, 130, 130, generator=gen)
    box = torch.full((1, 1, 2, 2), 0.25)
    x = 0.5 + torch.nn.functional.conv2d(white, box)[..., :128, :128]
    stats = texture_statistics(x, quantiles=(0.5,), bins=1)[:, :-1]  # per band: median, bin
    expected = [math.log(0.03 * np.sqrt((convolve2d(_dilated_immerkaer(d), np.full((2, 2), .25))
                                         ** 2).sum())) for d in DILATIONS for _ in range(2)]
    assert torch.allclose(stats, torch.tensor([expected] * 2, dtype=stats.dtype), atol=0.04)
    assert float(stats[0, 0]) < float(stats[0, 2]) - 0.5  # the fine band lost most power


def test_saturated_pixels_and_field_edges_do_not_count():
    gen = torch.Generator().manual_seed(2)
    x = 0.5 + 0.01 * torch.randn(1, 1, 128, 128, generator=gen)
    collimated = x.clone()
    collimated[..., :, :40] = 0.0  # a collimator: saturated, with a sharp edge
    assert torch.allclose(texture_statistics(collimated), texture_statistics(x), atol=0.05)


def _noise_classes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random anatomy plus white noise of std 0.01 (class 0) or 0.02 (class 1)."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.rand(n, 1, 4, 4, generator=gen), size=32,
                                           mode="bilinear", align_corners=False)
    labels = torch.arange(n) % 2
    sigma = torch.where(labels == 0, 0.01, 0.02)[:, None, None, None]
    x = (0.2 + 0.6 * base + sigma * torch.randn(n, 1, 32, 32, generator=gen)).clamp(0, 1)
    return x.numpy(), labels.numpy()


def test_texture_classifier_learns_noise_level_classes():
    from medshift.models.classifier import predict
    from medshift.training.classifier import train_classifier

    images, labels = _noise_classes(64, 0)
    model = train_classifier(images, labels, 2, steps=60, batch=16, texture=True)
    held_out, truth = _noise_classes(40, 1)
    assert (predict(model, held_out) == truth).mean() >= 0.95


def test_texture_classifier_export_round_trip_and_features(tmp_path):
    from medshift.models.classifier import N_TEXTURE, DomainClassifier, load_classifier
    from medshift.models.weights import save_export
    from medshift.training.classifier import train_classifier

    images, labels = _noise_classes(12, 3)
    model = train_classifier(images, labels, 2, steps=3, batch=4, texture=True, width=16)
    assert isinstance(model, DomainClassifier) and model.texture and not model.training
    save_export(tmp_path, {"classifier": model},
                {"classes": ["a", "b"], "width": 16, "texture": True})
    loaded, meta = load_classifier(tmp_path)
    x = torch.from_numpy(images[:4])
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x)) and meta["classes"] == ["a", "b"]
        assert loaded.features(x).shape == (4, 4 * 16 + N_TEXTURE)
        assert torch.equal(loaded.texture_std, model.texture_std)
        assert torch.equal(loaded.texture_head.weight, model.texture_head.weight)


def test_texture_is_refused_with_crops():
    from medshift.training.classifier import train_classifier

    images, labels = _noise_classes(4, 4)
    with pytest.raises(ValueError, match="crop"):
        train_classifier(images, labels, 2, steps=1, crop=16, texture=True)


def test_texture_head_is_scikit_learns_logistic_regression():
    sklearn = pytest.importorskip("sklearn.linear_model")
    from medshift.models.classifier import N_TEXTURE, DomainClassifier
    from medshift.training.classifier import fit_texture_head

    gen = torch.Generator().manual_seed(5)
    labels = torch.arange(90) % 3
    stats = torch.randn(90, N_TEXTURE, generator=gen) + labels[:, None].float()
    model = DomainClassifier(3, 8, texture=True)  # standardisation left at mean 0, std 1
    fit_texture_head(model, stats, labels, c=2.0)
    reference = sklearn.LogisticRegression(C=2.0, tol=1e-10, max_iter=10_000).fit(
        stats.double().numpy(), labels.numpy())
    assert np.allclose(model.texture_head.weight.detach().numpy(), reference.coef_, atol=2e-3)
    assert np.allclose(model.texture_head.bias.detach().numpy(), reference.intercept_,
                       atol=2e-3)


@pytest.mark.parametrize("level", [0.0, 0.5])
def test_a_flat_image_leaves_intensity_bins_empty_without_failing(level):
    # one local mean everywhere puts every pixel in the first bin; a black image has no
    # texture region, so every pixel counts and the empty bins start past the last one
    x = torch.full((2, 1, 32, 32), level)
    stats = texture_statistics(x)
    assert stats.shape == (2, n_statistics()) and torch.isfinite(stats).all()
