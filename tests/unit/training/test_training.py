"""Tiny training runs: loss falls, classes separate, killed runs resume exactly."""

from __future__ import annotations

import pytest
import torch

from medshift.config.autoencoder import AutoencoderConfig
from medshift.config.velocity import VelocityConfig
from medshift.flow.guidance import guided_velocity
from medshift.flow.solvers import solve, time_grid
from medshift.models.velocity import VelocityArchitecture
from medshift.training.autoencoder import train_autoencoder
from medshift.training.distributed import DistInfo
from medshift.training.velocity import train_velocity

from .images import small_spec

CPU = DistInfo(0, 1, torch.device("cpu"))


def _toy_latents(n_per_class: int = 24, classes: int = 3):
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    latents = (labels.float() * 2 - 2).view(-1, 1, 1, 1) + 0.1 * torch.randn(
        len(labels), 2, 8, 8, generator=gen)
    return latents, labels


def _cfg(**kw):
    base = dict(model=VelocityArchitecture(16, (1, 2)), steps=200, batch_size=16, lr=2e-3,
                warmup_steps=10, log_every=10, checkpoint_every=50, sample_every=1000,
                ema_decay=0.9)
    base.update(kw)
    return VelocityConfig(**base)


def test_velocity_loss_falls_and_generations_separate_classes(tmp_path):
    latents, labels = _toy_latents()
    seen = []
    _, ema = train_velocity(_cfg(), latents, labels, 3, CPU, tmp_path,
                        on_step=lambda s, m: seen.append(m["loss"]))
    assert sum(seen[-3:]) / 3 < 0.5 * sum(seen[:3]) / 3
    x0 = torch.randn(6, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    means = []
    for k in range(3):
        fn = guided_velocity(ema, torch.full((6,), k), 1.0, null_label=3)
        means.append(float(solve(fn, x0, time_grid(0, 1, 16, "midpoint"), "midpoint").mean()))
    assert means[0] < means[1] < means[2]
    assert means[0] == pytest.approx(-2, abs=0.6) and means[2] == pytest.approx(2, abs=0.6)


class _Killed(RuntimeError):
    pass


def test_killed_run_resumes_to_identical_weights(tmp_path):
    latents, labels = _toy_latents(8)
    cfg = _cfg(steps=30, checkpoint_every=10)
    model_a, ema_a = train_velocity(cfg, latents, labels, 3, CPU, tmp_path / "a")

    def kill(step, path):
        if step == 20:
            raise _Killed

    with pytest.raises(_Killed):
        train_velocity(cfg, latents, labels, 3, CPU, tmp_path / "b", on_checkpoint=kill)
    model_b, ema_b = train_velocity(cfg, latents, labels, 3, CPU, tmp_path / "b")
    for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(ema_a.state_dict().values(), ema_b.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_autoencoder_loss_falls_on_tiny_images(tmp_path):
    from medshift.evaluation.texture import noise_sigma
    from medshift.models.autoencoder import reconstruct

    gen = torch.Generator().manual_seed(0)
    yy = torch.linspace(0, 1, 32).view(1, 1, 32, 1)
    images = (0.3 + 0.4 * yy + 0.02 * torch.randn(12, 1, 32, 32, generator=gen)).clamp(0, 1)
    seen = []
    cfg = AutoencoderConfig(model=small_spec(), steps=100, batch_size=8, crop=16,
                            edge_weight=0.0, log_every=10, checkpoint_every=100, lr=1e-3)
    model = train_autoencoder(cfg, images.numpy(), CPU, tmp_path,
                              on_step=lambda s, m: seen.append(m))
    first, last = seen[:2], seen[-2:]
    mean = lambda rows, key: sum(r[key] for r in rows) / len(rows)  # noqa: E731
    assert mean(last, "l1") < 0.8 * mean(first, "l1")
    assert (tmp_path / "step-0000100.pt").exists()
    # not a denoiser: the calibrated decoder gives reconstructions the input's noise level
    recon = reconstruct(model, images.numpy())
    ratio = (sum(noise_sigma(r[0]) for r in recon)
             / sum(noise_sigma(x[0]) for x in images.numpy()))
    assert 0.9 < ratio < 1.1  # 0.87 without calibrate_noise


def test_resume_replays_the_curve_and_ignores_another_configurations_checkpoints(tmp_path):
    latents, labels = _toy_latents(8)
    cfg = _cfg(steps=20, checkpoint_every=10, log_every=5, sample_every=10)
    first, sampled = [], []
    train_velocity(cfg, latents, labels, 3, CPU, tmp_path, on_step=lambda s, m: first.append(s))
    # rerun of a finished run: the whole loss curve again, and the final sample grid
    again = []
    train_velocity(cfg, latents, labels, 3, CPU, tmp_path, on_step=lambda s, m: again.append(s),
               on_sample=lambda s, ema: sampled.append(s))
    assert again == first == [5, 10, 15, 20] and sampled == [20]
    # a changed learning rate must train afresh, not resume the finished run
    fresh = []
    model, _ = train_velocity(_cfg(steps=20, checkpoint_every=10, log_every=5, lr=1e-3), latents,
                          labels, 3, CPU, tmp_path, on_step=lambda s, m: fresh.append(s))
    reference, _ = train_velocity(_cfg(steps=20, checkpoint_every=10, log_every=5, lr=1e-3),
                              latents, labels, 3, CPU, tmp_path / "clean")
    assert fresh == [5, 10, 15, 20]
    assert sorted(f.name for f in tmp_path.glob("step-*.pt")) == ["step-0000010.pt",
                                                                 "step-0000020.pt"]
    for a, b in zip(model.state_dict().values(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_ema_warm_up_forgets_the_initial_weights():
    from medshift.training.ema import EMA, warmup_decay

    assert warmup_decay(0.999, 0) == 0.1 and warmup_decay(0.999, 10_000) == 0.999
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = EMA(model, 0.999)
    with torch.no_grad():
        model.weight.fill_(1.0)
    for _ in range(650):
        ema.update(model)
    # a fixed 0.999 would still hold 0.999^650 = 52 % of the initial zero weight
    assert float(ema.model.weight) > 0.98
    restored = EMA(torch.nn.Linear(1, 1, bias=False), 0.999)
    restored.load_state_dict(ema.state_dict())
    assert restored.updates == 650 and torch.equal(restored.model.weight, ema.model.weight)


def test_killed_adversarial_autoencoder_resumes_to_identical_weights(tmp_path):
    """The critic and its optimiser are part of the checkpoint: a resumed run matches."""
    gen = torch.Generator().manual_seed(0)
    images = (0.5 + 0.05 * torch.randn(8, 1, 32, 32, generator=gen)).clamp(0, 1).numpy()
    cfg = AutoencoderConfig(model=small_spec(), steps=8, batch_size=4, crop=16, edge_weight=0.0,
                            log_every=2, checkpoint_every=4, adversarial_weight=0.5,
                            adversarial_start=2)
    seen = []
    model_a = train_autoencoder(cfg, images, CPU, tmp_path / "a",
                                on_step=lambda s, m: seen.append(m))
    assert "critic" not in seen[0] and {"critic", "adversarial"} <= set(seen[-1])

    def kill(step, path):
        if step == 4:
            raise _Killed

    with pytest.raises(_Killed):
        train_autoencoder(cfg, images, CPU, tmp_path / "b", on_checkpoint=kill)
    model_b = train_autoencoder(cfg, images, CPU, tmp_path / "b")
    for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_changing_an_evaluation_only_key_resumes_instead_of_retraining(tmp_path):
    """log_every, checkpoint_every and the sample figure's keys are not in the run key: a
    finished run with only those changed resumes at its last step (no new checkpoint, same
    weights); a key that changes the weights (lr) trains afresh."""
    import dataclasses

    latents, labels = _toy_latents(8)
    cfg = _cfg(steps=20, checkpoint_every=10, log_every=5)
    model, _ = train_velocity(cfg, latents, labels, 3, CPU, tmp_path)
    saved: list[int] = []
    drawn = dataclasses.replace(cfg, log_every=4, checkpoint_every=5, sample_every=2,
                                sample_nfe=3, sample_method="euler", guidance=2.0)
    again, _ = train_velocity(drawn, latents, labels, 3, CPU, tmp_path,
                              on_checkpoint=lambda s, p: saved.append(s))
    assert saved == []
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    train_velocity(dataclasses.replace(cfg, lr=1e-3), latents, labels, 3, CPU, tmp_path,
                   on_checkpoint=lambda s, p: saved.append(s))
    assert saved == [10, 20]


def test_every_step_draws_from_a_generator_on_the_batchs_device(tmp_path):
    """A CUDA sampler refuses a CPU generator: the loop hands each step a generator on the
    device its batch lives on, and the augmentations draw on the generator's device."""
    from medshift.training.augment import crop_and_flip, flip_and_shift
    from medshift.training.loop import LoopConfig, TrainState, run, step_generator

    seen = []
    layer = torch.nn.Linear(4, 1)

    def step_fn(batch, gen):
        seen.append((gen.device, batch[0].device))
        crop_and_flip(batch[0].view(-1, 1, 2, 2), 1, gen)
        flip_and_shift(batch[0].view(-1, 1, 2, 2), gen, shift=1)
        return {"loss": layer(batch[0]).pow(2).mean()}

    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    state = TrainState({"m": layer}, optimizer,
                       torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0))
    info = DistInfo(0, 1, torch.device("cpu"))
    run(state, (torch.randn(8, 4),), step_fn, LoopConfig(3, 4, 0, 100, 100), info,
        tmp_path / "ckpt")
    assert seen == [(torch.device("cpu"), torch.device("cpu"))] * 3
    assert step_generator(0, 5, torch.device("cpu")).device == torch.device("cpu")
    # same seed and step, same draws: the device argument changes where, not what, on CPU
    assert torch.equal(torch.rand(3, generator=step_generator(1, 2)),
                       torch.rand(3, generator=step_generator(1, 2, "cpu")))
