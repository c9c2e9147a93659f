"""params.register: what the `register` stage logs, and the gate that decides whether the new
model version becomes ``production`` in the model registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medshift.config.base import check, from_mapping, to_dict


@dataclass(frozen=True)
class RegisterConfig:
    """params.register (defaults equal params.yaml's).

    The gate translates the first ``images_per_class`` test images of every
    ``source_domain`` class to every ``target_domain`` class at params.translate's default
    settings (tau, solver, nfe, guidance, seed: the served defaults too) and scores them
    against the aligned true targets (SSIM in the anatomy region) and the target classes'
    reference features (Fréchet distance, mean over target classes). The production version
    is re-scored on the same images in the same run.
    """

    name: str = "medshift"  # registered model name
    source: str = "syn_high"  # served default source class (the signature's default)
    target: str = "real_normal"  # served default target class
    source_domain: str = "synthetic"
    target_domain: str = "real"
    images_per_class: int = 16
    min_ssim: float = 0.5  # absolute floor for a first version: anatomy SSIM at least this
    max_fd: float = 300.0  # absolute floor for a first version: Fréchet distance at most this
    ssim_margin: float = 0.01  # a new version's SSIM may fall at most this below production's
    fd_gain: float = 0.02  # a new version's Fréchet distance must be this fraction lower
    sanity_images: int = 2
    lock_timeout: float = 900.0  # seconds to wait for another process's promotion

    def __post_init__(self) -> None:
        check("register", [
            (bool(self.name.strip()), "name must be a non-empty string"),
            (self.source_domain != self.target_domain,
             "source_domain and target_domain must differ"),
            (self.images_per_class >= 2 and self.sanity_images >= 1,
             "images_per_class must be >= 2 (Fréchet distance) and sanity_images >= 1"),
            (-1 <= self.min_ssim <= 1, "min_ssim must be in [-1, 1]"),
            (self.max_fd > 0, "max_fd must be > 0"),
            (0 <= self.ssim_margin < 1, "ssim_margin must be in [0, 1)"),
            (0 <= self.fd_gain < 1, "fd_gain must be in [0, 1)"),
            (self.lock_timeout > 0, "lock_timeout must be > 0")])

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> RegisterConfig:
        """From the params.register mapping; raises ConfigError on unknown or bad keys."""
        return from_mapping(cls, values, "register")

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return to_dict(self)
