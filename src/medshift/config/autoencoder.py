"""params.autoencoder: the texture-preserving KL autoencoder and how it is trained.

The architecture is ``params.autoencoder.model``, an ``AutoencoderSpec`` as stored with the
weights; the other keys are the training recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medshift.config.base import check, check_bf16, from_mapping, to_dict
from medshift.models.autoencoder import AutoencoderSpec

# keys that change what is logged or saved when, never the trained weights (resume is exact)
NOT_IN_RUN_KEY = ("log_every", "checkpoint_every")


@dataclass(frozen=True)
class AutoencoderConfig:
    """params.autoencoder (defaults equal params.yaml's)."""

    model: AutoencoderSpec = field(default_factory=AutoencoderSpec)
    steps: int = 2500
    batch_size: int = 8
    crop: int = 64
    lr: float = 1e-3
    kl_weight: float = 1e-6
    spectral_weight: float = 1.0
    edge_weight: float = 1.0
    perceptual_weight: float = 0.1
    adversarial_weight: float = 0.0
    adversarial_start: int = 500
    whole_training_subjects: bool = True
    feature_net_steps: int = 600
    bf16: str | bool = "auto"
    log_every: int = 50
    checkpoint_every: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        m = self.model
        check("autoencoder", [
            (m.factor in (4, 8), "model.factor must be 4 or 8"),
            (self.crop % m.factor == 0, "crop must be a multiple of model.factor"),
            (m.noise_kernel % 2 == 1 and m.noise_bases >= 1,
             "model.noise_kernel must be odd and model.noise_bases >= 1"),
            (m.calibration_quantile is None or 0 < m.calibration_quantile < 1,
             "model.calibration_quantile must be in (0, 1) or null (match the summed power)"),
            (m.texture_bands in (1, 2),
             "model.texture_bands must be 1 (noise level) or 2 (level and correlation)"),
            (m.upsample in ("nearest", "bilinear", "subpixel"),
             "model.upsample must be 'nearest', 'bilinear' or 'subpixel'"),
            (self.steps >= 1 and self.batch_size >= 1 and self.lr > 0,
             "steps and batch_size must be >= 1, lr > 0"),
        ])
        check_bf16(self.bf16, "autoencoder")

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> AutoencoderConfig:
        """From the params.autoencoder mapping; raises ConfigError on unknown or bad keys."""
        values = dict(values)
        values["model"] = from_mapping(AutoencoderSpec, values.get("model") or {},
                                       "autoencoder.model")
        return from_mapping(cls, values, "autoencoder")

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as recorded with the exported model."""
        return to_dict(self)

    def run_fingerprint(self) -> str:
        """What identifies the trained weights: every key but ``NOT_IN_RUN_KEY``."""
        d = self.to_dict()
        for key in NOT_IN_RUN_KEY:
            d.pop(key)
        return repr(sorted(d.items()))
