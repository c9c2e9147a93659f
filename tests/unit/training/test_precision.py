"""bf16 autocast: resolved per device, and only the autoencoder's trunks run in it."""

from __future__ import annotations

import pytest
import torch

from medshift.config.autoencoder import AutoencoderConfig
from medshift.config.base import ConfigError
from medshift.config.velocity import VelocityConfig
from medshift.models.autoencoder import KLAutoencoder
from medshift.precision import bf16_autocast, native_bf16, use_bf16

from .images import small_spec

CPU = torch.device("cpu")


def test_bf16_setting_resolves_per_device_and_rejects_other_values():
    assert use_bf16(True, CPU) and not use_bf16(False, CPU)
    assert use_bf16("auto", CPU) == native_bf16(CPU)
    assert not native_bf16(torch.device("meta"))
    for config in (AutoencoderConfig, VelocityConfig):
        with pytest.raises(ConfigError, match="bf16"):
            config(bf16="yes")


def test_autoencoder_under_bf16_autocast_keeps_texture_heads_and_noise_fp32():
    torch.manual_seed(0)
    ae = KLAutoencoder(small_spec(texture_bands=2)).eval()
    x = (0.5 + 0.02 * torch.randn(2, 1, 32, 32)).clamp(0, 1)
    with torch.no_grad():
        reference = ae(x, torch.Generator().manual_seed(1))
        with bf16_autocast(True, CPU):
            mixed = ae(x, torch.Generator().manual_seed(1))
            z, _ = ae.encode(x)
            trunk = ae.encoder.net(x)
    assert trunk.dtype == torch.bfloat16  # the autocast is really on
    assert all(t.dtype == torch.float32 for t in mixed)
    # the texture channels are measured in fp32: identical to the fp32 encoding
    assert torch.equal(z[:, -2:], ae.encode(x)[0][:, -2:])
    mean, noise = mixed[0], mixed[1]
    assert (mean - reference[0]).abs().max() < 0.02
    # the noise keeps the level of the fp32 model
    assert float(noise.std() / reference[1].std()) == pytest.approx(1.0, abs=0.05)
