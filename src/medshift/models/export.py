"""The packaged translation model ``models/medshift`` (registered as ``medshift``):
autoencoder + EMA velocity model + their model card, from one export directory.

Exports are written by ``medshift.models.card.save_model`` over the generic
``medshift.models.weights`` I/O; ``load_medshift`` rebuilds everything from the two files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from medshift.latents import LatentStats
from medshift.models.autoencoder import KLAutoencoder
from medshift.models.card import ModelCard, load_autoencoder, read_card, save_model
from medshift.models.velocity import VelocitySpec, VelocityUNet
from medshift.models.weights import read_weights

__all__ = ["MedShiftModel", "load_autoencoder", "load_medshift", "read_card", "save_model"]


@dataclass(frozen=True)
class MedShiftModel:
    """Everything translation needs: autoencoder, EMA velocity model and their card."""

    autoencoder: KLAutoencoder
    velocity: VelocityUNet
    card: ModelCard

    @property
    def classes(self) -> tuple[str, ...]:
        return self.card.classes

    @property
    def stats(self) -> LatentStats:
        return self.card.latent_stats

    @property
    def device(self) -> torch.device:
        return next(self.velocity.parameters()).device

    def label(self, name: str | None) -> int:
        """Class index; None or "unknown" gives the null label (ValueError if unknown)."""
        return self.card.label(name)

    def to(self, device: torch.device | str) -> MedShiftModel:
        """The model on ``device`` (the one explicit device boundary of inference)."""
        return MedShiftModel(self.autoencoder.to(device), self.velocity.to(device), self.card)


def load_medshift(directory: Path | str, device: torch.device | str = "cpu") -> MedShiftModel:
    """Load a trained MedShift export (autoencoder + EMA velocity + card) onto ``device``.

    Raises:
        FileNotFoundError: no export at ``directory``.
        ValueError: the export holds no velocity model or an incomplete card.
    """
    directory = Path(directory)
    autoencoder, card = load_autoencoder(directory)
    if card.velocity is None:
        raise ValueError(f"{directory}: an autoencoder export, not a MedShift model "
                         f"(no velocity model)")
    velocity = VelocityUNet(VelocitySpec.from_dict(card.velocity))
    velocity.load_state_dict(read_weights(directory, "velocity"))
    return MedShiftModel(autoencoder, velocity.eval(), card).to(device)
