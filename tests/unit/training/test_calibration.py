"""Texture channels and the decoder's noise calibration (level and correlation)."""

from __future__ import annotations

import pytest
import torch

from medshift.evaluation.texture import noise_sigma
from medshift.models.calibration import (
    band_responses,
    calibrate,
    texture_channels,
    texture_power,
)
from medshift.models.layers import binomial_blur

from .images import noisy_with_collimator


def _correlated(shape: tuple[int, ...], sigma: float, mix: float, seed: int) -> torch.Tensor:
    """Noise of std ~sigma whose correlation grows with ``mix`` (white to binomial-blurred)."""
    gen = torch.Generator().manual_seed(seed)
    white, other = torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)
    return sigma * ((1 - mix) * white + mix * 2.7 * binomial_blur(other))


def _band_rms(x: torch.Tensor, band: int) -> torch.Tensor:
    return band_responses(x, 2)[band][..., 4:-4, 4:-4].pow(2).mean((1, 2, 3)).sqrt()


def test_texture_channels_read_noise_level_and_correlation():
    gen = torch.Generator().manual_seed(0)
    for sigma in (0.01, 0.04):
        x = 0.5 + sigma * torch.randn(1, 1, 64, 64, generator=gen)
        power = texture_power(texture_channels(x, 4, bands=2)[..., 2:-2, 2:-2])
        assert texture_channels(x, 4).shape == (1, 1, 16, 16)
        # white noise: both bands read sigma
        for level in power.mean((2, 3)).sqrt().flatten():
            assert float(level) == pytest.approx(sigma, rel=0.1)
    white = texture_channels(0.5 + _correlated((1, 1, 64, 64), 0.01, 0.0, 1), 4, bands=2)
    smooth = texture_channels(0.5 + _correlated((1, 1, 64, 64), 0.01, 0.6, 1), 4, bands=2)
    ratio = lambda t: float((t[:, 1] - t[:, 0]).mean())  # noqa: E731  (log ratio / 2)
    assert ratio(smooth) > ratio(white) + 0.15  # band 1 / band 0 up by > 35 %


def test_calibration_restores_the_recorded_noise_power():
    gen = torch.Generator().manual_seed(1)
    yy = torch.linspace(0.2, 0.8, 128).view(1, 1, 128, 1).expand(3, 1, 128, 128)
    sigma = torch.tensor([0.01, 0.02, 0.04]).view(3, 1, 1, 1)
    x = yy + sigma * torch.randn(yy.shape, generator=gen)
    weak = 0.3 * sigma * torch.randn(yy.shape, generator=gen)  # a too-quiet decoder
    for quantile in (None, 0.25):
        noise = calibrate(texture_channels(x, 4), yy, [weak], quantile)
        assert torch.allclose(_band_rms(yy + noise, 0), _band_rms(x, 0), rtol=0.05)
        assert torch.all(noise.std((1, 2, 3)) > 2.5 * weak.std((1, 2, 3)))
        # a mean that already carries all the recorded power gets no noise at all
        assert float(calibrate(texture_channels(yy, 4), x, [weak], quantile).abs().max()) == 0


def test_calibration_ignores_the_power_of_collimator_edges():
    x = noisy_with_collimator(0.01, 0)
    clean = x.clone()
    clean[..., 16:] = 0.5
    soft = clean.clone()
    soft[..., 14:19] = torch.linspace(1.0, 0.5, 5)  # a decoder mean with a blurred edge
    noise = 0.004 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    rec = soft + calibrate(texture_channels(x, 4), soft, [noise])
    ratio = noise_sigma(rec[0, 0, :, 24:].numpy()) / noise_sigma(x[0, 0, :, 24:].numpy())
    assert 0.9 < ratio < 1.1  # 0.83 when the edge cells counted too


def test_quantile_calibration_survives_a_mean_that_overshoots_anatomical_edges():
    gen = torch.Generator().manual_seed(4)
    anatomy = torch.full((1, 1, 128, 128), 0.4)
    anatomy[..., 1::4, 0:16] = 0.55  # fine unsaturated detail in an eighth of the cells
    x = anatomy + 0.01 * torch.randn(anatomy.shape, generator=gen)
    sharp = 0.4 + 2.0 * (anatomy - 0.4)  # a decoder mean that over-sharpens it
    noise = 0.004 * torch.randn(x.shape, generator=gen)

    def flat_ratio(quantile: float | None) -> float:  # noise sigma in the flat anatomy
        rec = sharp + calibrate(texture_channels(x, 4), sharp, [noise], quantile)
        return noise_sigma(rec[0, 0, :, 24:].numpy()) / noise_sigma(x[0, 0, :, 24:].numpy())

    assert flat_ratio(None) < 0.7  # the sum: overshoot eats the budget
    for quantile in (0.25, 0.5):
        assert flat_ratio(quantile) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("quantile", [None, 0.25])
def test_two_band_calibration_restores_level_and_correlation(quantile):
    yy = torch.linspace(0.2, 0.8, 128).view(1, 1, 128, 1).expand(4, 1, 128, 128)
    x = torch.cat([yy[:1] + _correlated((1, 1, 128, 128), sigma, mix, seed)
                   for seed, (sigma, mix) in enumerate([(0.01, 0.0), (0.01, 0.3), (0.02, 0.6),
                                                        (0.005, 0.8)])])
    gen = torch.Generator().manual_seed(9)
    white = 0.003 * torch.randn(x.shape, generator=gen)
    smooth = 0.003 * binomial_blur(torch.randn(x.shape, generator=gen))
    rec = yy + calibrate(texture_channels(x, 4, bands=2), yy, [white, smooth], quantile)
    for band in (0, 1):
        assert torch.allclose(_band_rms(rec, band), _band_rms(x, band), rtol=0.05)
    # one component keeps the level but not the correlation
    rec = yy + calibrate(texture_channels(x, 4, bands=1), yy, [white], quantile)
    assert torch.allclose(_band_rms(rec, 0), _band_rms(x, 0), rtol=0.05)
    assert float((_band_rms(rec, 1) / _band_rms(x, 1)).min()) < 0.6


def test_two_texture_bands_in_the_latent_and_the_config():
    from medshift.config.autoencoder import AutoencoderConfig
    from medshift.config.base import ConfigError
    from medshift.models.autoencoder import AutoencoderSpec, KLAutoencoder

    from .images import small_spec

    spec = small_spec(latent_channels=3, calibration_quantile=0.25, texture_bands=2)
    ae = KLAutoencoder(spec).eval()
    x = 0.5 + _correlated((2, 1, 32, 32), 0.01, 0.5, 3)
    mean, logvar = ae.encode(x)
    assert mean.shape == (2, 5, 8, 8)
    assert torch.equal(mean[:, 3:], texture_channels(x, 4, bands=2))  # deterministic bands
    assert torch.all(logvar[:, 3:] == -30)
    _, noise, mu, _ = ae(x, torch.Generator().manual_seed(0))
    assert mu.shape == (2, 3, 8, 8) and noise.shape == x.shape and torch.all(noise.std() > 0)
    for bad in ({"texture_bands": 3}, {"calibration_quantile": 1.0}):
        with pytest.raises(ConfigError):
            AutoencoderConfig(model=AutoencoderSpec(**bad))
