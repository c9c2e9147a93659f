"""MedShift transport and SDEdit on a tiny random model: exactness, batching, NFE, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medshift.flow.solvers import METHODS
from medshift.latents import LatentStats, decode, encode
from medshift.models.autoencoder import KLAutoencoder
from medshift.models.card import ModelCard
from medshift.models.export import MedShiftModel
from medshift.models.velocity import VelocityArchitecture, VelocitySpec, VelocityUNet
from medshift.seeding import image_generators, image_seed, randn
from medshift.translation.sdedit import sdedit
from medshift.translation.translate import (
    TranslationRequest,
    generate,
    invert,
    translate,
    translate_to_targets,
)

from ..training.images import small_spec


def _model(dtype=torch.float32) -> MedShiftModel:
    torch.manual_seed(0)
    ae = KLAutoencoder(small_spec(latent_channels=2)).eval()
    vel = VelocityUNet(VelocitySpec(3, 3, VelocityArchitecture(16))).eval()
    torch.nn.init.normal_(vel.out[-1].weight, std=0.05)
    card = ModelCard(("a", "b", "c"), ae.spec, LatentStats((0.1, -0.2, 1.0), (1.0, 2.0, 0.5)),
                     16, vel.spec.to_dict())
    return MedShiftModel(ae.to(dtype), vel.to(dtype), card)


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture(scope="module")
def images():
    return torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(1)).numpy()


@pytest.mark.parametrize("solver", sorted(METHODS))
def test_invert_then_generate_with_the_same_label_returns_the_latent(solver):
    model = _model(torch.float64)
    z1 = torch.randn(2, 3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([0, 2])
    req = TranslationRequest(tau=0.4, nfe=2048, solver=solver, guidance=1.5, rtol=1e-10,
                             atol=1e-12)
    from medshift.translation.translate import _integrate

    down, _ = _integrate(model, z1, labels, 1.0, req.tau, req, legs=2)
    back, _ = _integrate(model, down, labels, req.tau, 1.0, req, legs=2)
    tol = {"euler": 1e-3, "midpoint": 1e-6, "heun": 1e-6, "rk4": 1e-10, "dopri5": 1e-8}[solver]
    assert (down - z1).abs().max() > 1e-3  # the field does move the latent
    assert torch.allclose(back, z1, atol=tol, rtol=0)


def test_tau_one_is_the_autoencoder_reconstruction(model, images):
    out = translate(model, images, "a", "b", TranslationRequest(tau=1.0, seed=3, bf16=False))
    gens = image_generators(3, range(len(images)), torch.device("cpu"))
    recon = decode(model.autoencoder, encode(model.autoencoder, images, model.stats),
                   model.stats, gens)
    assert np.array_equal(out.images, recon.numpy()) and out.nfe == 0


@pytest.mark.parametrize(("solver", "bf16"), [("midpoint", False), ("dopri5", False),
                                              ("midpoint", True)])
def test_a_batch_translates_as_its_images_one_by_one(model, images, solver, bf16):
    req = TranslationRequest(solver=solver, nfe=8, batch_size=3, bf16=bf16)
    both = translate(model, images, ["a", "b", "unknown"], "c", req, keys=["x", "y", "z"])
    for k, (src, key) in enumerate(zip(["a", "b", "unknown"], "xyz", strict=True)):
        alone = translate(model, images[k:k + 1], src, "c", req, keys=[key])
        np.testing.assert_allclose(both.images[k], alone.images[0], rtol=0, atol=1e-6)
    assert both.source_labels.tolist() == [0, 1, 3]  # unknown = the null label


def test_batch_size_does_not_change_results(model, images):
    a = translate(model, images, "a", "b", TranslationRequest(batch_size=1))
    b = translate(model, images, "a", "b", TranslationRequest(batch_size=64))
    np.testing.assert_allclose(a.images, b.images, rtol=0, atol=1e-6)


def test_nfe_counts_both_legs_and_guidance_twice(model, images):
    assert translate(model, images, "a", "b", TranslationRequest(nfe=12, solver="euler")).nfe == 12
    guided = TranslationRequest(nfe=12, solver="midpoint", guidance=1.5)
    assert translate(model, images, "a", "b", guided).nfe == 8  # one step a leg
    plain = TranslationRequest(nfe=12, guidance=1.0)
    assert translate(model, images, "a", "b", plain).nfe == 12
    assert translate(model, images, "a", "b", TranslationRequest()).nfe == 24  # the default
    adaptive = translate(model, images[:1], "a", "b", TranslationRequest(solver="dopri5"))
    assert adaptive.nfe >= 2 * 2 * 6 and adaptive.nfe % 2 == 0  # >= one dopri5 step a leg


def test_seeds_change_only_the_texture_and_are_per_key(model, images):
    req = TranslationRequest(seed=0)
    first = translate(model, images, "a", "b", req, keys=["p", "q", "r"]).images
    again = translate(model, images, "a", "b", req, keys=["p", "q", "r"]).images
    other = translate(model, images, "a", "b", TranslationRequest(seed=1),
                      keys=["p", "q", "r"]).images
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_inverting_once_for_several_targets_matches_single_translations(model, images):
    req = TranslationRequest()
    outs, nfe = translate_to_targets(model, images, [0, 0, 0], [1, 2], req, keys=[5, 6, 7])
    single = translate(model, images, "a", "c", req, keys=[5, 6, 7])
    np.testing.assert_allclose(outs[2], single.images, rtol=0, atol=1e-6)
    assert nfe == single.nfe


def test_sdedit_noise_is_per_image_and_uses_one_leg(model, images):
    req = TranslationRequest(tau=0.3, nfe=12, solver="euler")
    outs, nfe = sdedit(model, images, [1], req, keys=["x", "y", "z"])
    alone, _ = sdedit(model, images[1:2], [1], req, keys=["y"])
    np.testing.assert_allclose(outs[1][1], alone[1][0], rtol=0, atol=1e-6)
    assert nfe == 6 and outs[1].shape == images.shape
    assert outs[1].min() >= 0 and outs[1].max() <= 1


def test_invert_and_generate_stay_on_the_model_device(model, images):
    x = torch.as_tensor(images)
    z_tau, _ = invert(model, x, torch.tensor([0, 1, 2]), TranslationRequest())
    y, _ = generate(model, z_tau, torch.tensor([1, 1, 1]), TranslationRequest(), [0, 1, 2])
    assert z_tau.device == model.device == y.device


def test_generators_are_created_on_the_tensor_device_and_checked():
    x = torch.zeros(2, 3)
    gens = image_generators(0, ["a", "b"], x.device)
    assert all(g.device == x.device for g in gens)
    assert image_seed(0, "a") != image_seed(0, "b") != image_seed(1, "a")
    a = randn((2, 3), gens, x.device)
    b = randn((1, 3), image_generators(0, ["b"], x.device), x.device)
    assert torch.equal(a[1], b[0])
    with pytest.raises(ValueError, match="2 generators for a batch of 3"):
        randn((3, 3), gens, x.device)


def test_bf16_networks_stay_close_to_fp32(model, images):
    fp32 = translate(model, images, "a", "b", TranslationRequest(bf16=False)).images
    bf16 = translate(model, images, "a", "b", TranslationRequest(bf16=True)).images
    assert 0 < np.abs(fp32 - bf16).mean() < 0.02


def test_request_validation():
    with pytest.raises(ValueError, match="tau must be in"):
        TranslationRequest(tau=0.0)
    with pytest.raises(ValueError, match="unknown solver 'rk45'"):
        TranslationRequest(solver="rk45")
    with pytest.raises(ValueError, match="guidance"):
        TranslationRequest(guidance=float("nan"))
