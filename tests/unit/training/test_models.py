"""Shapes, determinism, the texture channel and the self-describing export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medshift.latents import LatentStats
from medshift.models.autoencoder import AutoencoderSpec, KLAutoencoder
from medshift.models.card import ModelCard
from medshift.models.export import MedShiftModel, load_medshift, read_card, save_model
from medshift.models.velocity import VelocityArchitecture, VelocitySpec, VelocityUNet
from medshift.translation.translate import TranslationRequest, translate

from .images import noisy_with_collimator, small_spec


def test_autoencoder_shapes_and_seeded_decoding():
    ae = KLAutoencoder(small_spec(latent_channels=3)).eval()
    x = torch.rand(2, 1, 32, 32)
    mean, logvar = ae.encode(x)
    assert mean.shape == (2, 4, 8, 8) and logvar.shape == mean.shape
    a = ae.decode(mean, torch.Generator().manual_seed(3))
    b = ae.decode(mean, torch.Generator().manual_seed(3))
    assert a.shape == x.shape and torch.equal(a, b) and a.min() >= 0 and a.max() <= 1


def test_noise_bases_and_kernel_come_from_the_spec_and_start_white():
    from medshift.config.autoencoder import AutoencoderConfig
    from medshift.config.base import ConfigError

    spec = small_spec(noise_bases=6, noise_kernel=7)
    colour = KLAutoencoder(spec).decoder.colour.weight.detach()
    assert colour.shape == (6, 1, 7, 7)
    assert torch.all(colour[:, :, 3, 3] == 1) and float(colour.abs().sum()) == 6
    with pytest.raises(ConfigError, match="noise_kernel"):
        AutoencoderConfig(model=AutoencoderSpec(noise_kernel=6))


def test_velocity_unet_shape_and_zero_initial_output():
    net = VelocityUNet(VelocitySpec(5, 5, VelocityArchitecture(16)))
    out = net(torch.randn(3, 5, 16, 16), torch.rand(3), torch.tensor([0, 4, 5]))
    assert out.shape == (3, 5, 16, 16) and torch.count_nonzero(out) == 0


def test_export_round_trip_translates_identically(tmp_path):
    torch.manual_seed(0)
    ae = KLAutoencoder(small_spec(latent_channels=2)).eval()
    vel = VelocityUNet(VelocitySpec(3, 2, VelocityArchitecture(16))).eval()
    torch.nn.init.normal_(vel.out[-1].weight, std=0.02)
    stats = LatentStats((0.1, -0.2, 1.0), (1.0, 2.0, 0.5))
    card = ModelCard(("a", "b"), ae.spec, stats, 16, vel.spec.to_dict(), data_version="d1")
    save_model(tmp_path, {"autoencoder": ae, "velocity": vel}, card)
    loaded = load_medshift(tmp_path)
    assert loaded.classes == ("a", "b") and loaded.label("b") == 1 and loaded.label(None) == 2
    assert loaded.card == card and read_card(tmp_path).image_size == 16
    x = torch.rand(2, 1, 16, 16)
    req = TranslationRequest(tau=0.5, nfe=8, solver="euler", guidance=1.5)
    expected = translate(MedShiftModel(ae, vel, card), x, ["a", "b"], ["b", "a"], req)
    got = translate(loaded, x, ["a", "b"], ["b", "a"], req)
    assert np.array_equal(expected.images, got.images) and got.nfe == 8
    with pytest.raises(ValueError, match=r"unknown class 'c'.*a, b"):
        translate(loaded, x, "c", "a", req)


def test_feature_statistics_loss_sees_noise_level_not_noise_positions():
    from medshift.models.classifier import DomainClassifier
    from medshift.training.losses import feature_statistics_loss

    torch.manual_seed(0)
    net = DomainClassifier(5).eval()
    base = torch.linspace(0.2, 0.8, 64).view(1, 1, 1, 64).expand(4, 1, 64, 64)
    noisy = lambda s, seed: (base + s * torch.randn(  # noqa: E731
        base.shape, generator=torch.Generator().manual_seed(seed))).clamp(0, 1)
    maps = net.feature_maps(noisy(0.02, 0))
    assert [m.shape[-1] for m in maps] == [32, 16, 8]
    assert feature_statistics_loss(maps, maps) == 0
    same_level = feature_statistics_loss(net.feature_maps(noisy(0.02, 1)), maps)
    other_level = feature_statistics_loss(net.feature_maps(noisy(0.03, 1)), maps)
    assert other_level > 3 * same_level


def test_hinge_critic_loss_and_patch_logits():
    from medshift.models.discriminator import PatchDiscriminator
    from medshift.training.losses import hinge_discriminator_loss

    logits = PatchDiscriminator()(torch.rand(2, 1, 64, 64))
    assert logits.shape == (2, 1, 16, 16)
    confident = hinge_discriminator_loss(torch.full((4,), 2.0), torch.full((4,), -3.0))
    fooled = hinge_discriminator_loss(torch.full((4,), -1.0), torch.full((4,), 1.0))
    assert confident == 0 and fooled == 2


def test_adaptive_weight_balances_the_gradients_at_the_layer():
    from medshift.training.losses import adaptive_adversarial_weight

    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 1)
    out = layer(torch.randn(16, 8))
    rec, adv = (out - 1).abs().mean(), -5.0 * out.mean()
    weight = adaptive_adversarial_weight(rec, adv, layer.weight)
    g_rec = torch.autograd.grad(rec, layer.weight, retain_graph=True)[0].norm()
    g_adv = torch.autograd.grad(weight * adv, layer.weight)[0].norm()
    assert not weight.requires_grad
    assert float(g_adv) == pytest.approx(float(g_rec), rel=1e-3)


def test_texture_region_leaves_out_saturation_its_edge_and_the_border():
    from medshift.signal import texture_region

    region = texture_region(noisy_with_collimator(0.01, 0))
    assert torch.all(region[..., :19] == 0) and torch.all(region[..., 3:-3, 19:-3] == 1)
    assert torch.all(region[..., :3, :] == 0) and torch.all(region[..., -3:] == 0)


def test_texture_losses_look_only_inside_the_texture_region():
    from medshift.signal import texture_region
    from medshift.training.losses import local_energy_loss, spectral_loss

    x = noisy_with_collimator(0.01, 0)
    under_collimator = x.clone()
    under_collimator[..., 4:15] = torch.linspace(0.6, 0.95, 11)  # same noise, other structure
    region = texture_region(x)
    assert (spectral_loss(under_collimator, x) > 0.01
            and local_energy_loss(under_collimator, x) > 1e-3)
    assert float(spectral_loss(under_collimator, x, region=region)) < 1e-6
    assert float(local_energy_loss(under_collimator, x, region=region)) < 1e-6
    other_noise = noisy_with_collimator(0.02, 1)
    assert spectral_loss(other_noise, x, region=region) > 0.5


def test_subpixel_upsampling_starts_as_nearest_and_has_no_notch_at_nyquist():
    from medshift.config.autoencoder import AutoencoderConfig
    from medshift.config.base import ConfigError
    from medshift.models.layers import SubpixelUpsample

    def nyquist_power(y: torch.Tensor) -> float:  # power at the fine grid's (0.5, 0.5)
        return float(torch.fft.fft2(y)[..., y.shape[-2] // 2, y.shape[-1] // 2].abs().sum())

    torch.manual_seed(0)
    up = SubpixelUpsample(3, 2)
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():  # starts with every sub-pixel phase equal (ICNR)
        nearest = torch.nn.functional.interpolate(up.shared(x), scale_factor=2)
        assert torch.allclose(up(x), nearest, atol=1e-6)
        assert nyquist_power(nearest) < 1e-4  # nearest upsampling zeroes it, whatever x
        up.detail.add_(torch.randn_like(up.detail))
        assert nyquist_power(up(x)) > 0.1  # learned phases can put power there ...
        flat = up(torch.ones(1, 3, 8, 8))[..., 2:-2, 2:-2]  # ... but never on a flat input
        assert torch.allclose(flat, flat[..., :1, :1].expand_as(flat), atol=1e-5)
    for mode in ("subpixel", "bilinear"):
        assert KLAutoencoder(small_spec(upsample=mode)).decode(
            torch.zeros(1, 5, 4, 4)).shape == (1, 1, 16, 16)
    bilinear = KLAutoencoder(small_spec(upsample="bilinear")).decoder
    assert [m.mode for m in bilinear.blocks if isinstance(m, torch.nn.Upsample)] == [
        "bilinear", "bilinear"]
    with pytest.raises(ConfigError, match="upsample"):
        AutoencoderConfig(model=AutoencoderSpec(upsample="bicubic"))


def test_gradient_l1_ignores_zero_mean_noise_more_than_a_lost_edge():
    from medshift.training.losses import gradient_l1

    gen = torch.Generator().manual_seed(5)
    edge = torch.zeros(1, 1, 64, 64)
    edge[..., 32:] = 1.0
    blurred = torch.nn.functional.avg_pool2d(edge, 5, stride=1, padding=2,
                                             count_include_pad=False)
    assert float(gradient_l1(edge, edge)) == 0
    assert float(gradient_l1(blurred, edge)) > 0
    noisy = edge + 0.01 * torch.randn(edge.shape, generator=gen)
    # against a noisy target the sharp edge costs less than the blurred one
    assert float(gradient_l1(edge, noisy)) < float(gradient_l1(blurred, noisy))


def test_classifier_prediction_averages_the_four_flips():
    from medshift.models.classifier import DomainClassifier, predict

    torch.manual_seed(0)
    model = DomainClassifier(3).eval()
    x = torch.rand(6, 1, 32, 32).numpy()
    for flipped in (x[..., ::-1], x[..., ::-1, :], x[..., ::-1, ::-1]):
        assert (predict(model, flipped.copy()) == predict(model, x)).all()


def test_classifier_report_counts_per_class_and_confusion():
    from medshift.evaluation.classification import classifier_report

    labels = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 2, 2])
    report = classifier_report(pred, labels, ("a", "b", "c"))
    assert report["accuracy"] == {"a": round(2 / 3, 4), "b": 0.5, "c": 1.0}
    assert report["overall_accuracy"] == round(4 / 6, 4)
    assert report["confusion"]["counts"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_classifier_export_round_trip(tmp_path):
    from medshift.models.classifier import DomainClassifier, load_classifier
    from medshift.models.weights import save_export
    from medshift.training.classifier import train_classifier

    gen = np.random.default_rng(0)
    images = gen.random((12, 1, 32, 32), dtype=np.float32)
    labels = np.arange(12) % 3
    model = train_classifier(images, labels, 3, steps=3, batch=4)
    assert isinstance(model, DomainClassifier) and not model.training
    save_export(tmp_path, {"classifier": model}, {"classes": ["a", "b", "c"], "width": 32})
    loaded, meta = load_classifier(tmp_path)
    x = torch.from_numpy(images[:4])
    assert torch.equal(loaded(x), model(x)) and meta["classes"] == ["a", "b", "c"]
