"""The packaged translation model ``models/medshift`` (registered as ``medshift``):
autoencoder + EMA velocity model + latent stats + classes, from one export directory.

Exports are written by ``medshift.models.weights.save_export`` (re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medshift.latents import LatentStats
from medshift.models.autoencoder import KLAutoencoder, load_autoencoder
from medshift.models.velocity import VelocitySpec, VelocityUNet
from medshift.models.weights import read_weights, save_export

__all__ = ["MedShiftModel", "load_autoencoder", "load_medshift", "save_export"]


@dataclass(frozen=True)
class MedShiftModel:
    """Everything translation needs."""

    autoencoder: KLAutoencoder
    velocity: VelocityUNet
    stats: LatentStats
    classes: tuple[str, ...]
    metadata: dict

    def label(self, name: str | None) -> int:
        """Class index; None or "unknown" gives the null label."""
        if name in (None, "unknown"):
            return self.velocity.spec.null_label
        if name not in self.classes:
            raise ValueError(f"unknown class {name!r}; model classes: {list(self.classes)}")
        return self.classes.index(name)


def load_medshift(directory: Path | str) -> MedShiftModel:
    """Load a trained MedShift export (autoencoder + EMA velocity + latent stats + classes)."""
    directory = Path(directory)
    autoencoder, meta = load_autoencoder(directory)
    velocity = VelocityUNet(VelocitySpec.from_dict(meta["velocity"]))
    velocity.load_state_dict(read_weights(directory, "velocity"))
    stats = LatentStats(tuple(meta["latent_stats"]["mean"]), tuple(meta["latent_stats"]["std"]))
    return MedShiftModel(autoencoder, velocity.eval(), stats, tuple(meta["classes"]), meta)
