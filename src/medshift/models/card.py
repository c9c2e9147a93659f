"""The model card: the one typed contract for what a trained export holds.

Written next to the weights as ``metadata.json`` and read back in one place
(``ModelCard.from_metadata``), so the training stages, the ``translate`` stage, the CLI and
the MLflow model all agree on classes, architectures, latent statistics and working size.
The velocity architecture is kept as plain data here (``VelocitySpec.to_dict``), so loading
an autoencoder never depends on the velocity model's code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from medshift import __version__
from medshift.latents import LatentStats
from medshift.models.autoencoder import AutoencoderSpec, KLAutoencoder
from medshift.models.weights import read_metadata, read_weights, save_export

UNKNOWN_SOURCE = "unknown"  # source name that selects the null (unconditional) label


@dataclass(frozen=True)
class ModelCard:
    """What an autoencoder or MedShift export is.

    Attributes:
        classes: ordered class ids; label k is ``classes[k]``, the null label is len(classes).
        autoencoder: the autoencoder's architecture.
        latent_stats: per-channel normalisation fitted on the training split's latents.
        image_size: working size in pixels (square); inputs are resampled to it.
        velocity: the velocity model's architecture as ``VelocitySpec.to_dict`` data (None
            for an autoencoder-only export).
        data_version: hash of the manifest the model was trained on.
        code_version: medshift version that wrote the export.
        training: the resolved config of each training stage, by section name.
    """

    classes: tuple[str, ...]
    autoencoder: AutoencoderSpec
    latent_stats: LatentStats
    image_size: int
    velocity: dict[str, Any] | None = None
    data_version: str | None = None
    code_version: str = __version__
    training: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # plain JSON data (tuples as lists), so a card equals its own round trip
        for name in ("velocity", "training"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, json.loads(json.dumps(value)))

    def label(self, name: str | None) -> int:
        """Label id of a class name; None or "unknown" gives the null label.

        Raises:
            ValueError: a name that is not a class of this model (the message lists them).
        """
        if name is None or name == UNKNOWN_SOURCE:
            return len(self.classes)
        if name not in self.classes:
            raise ValueError(f"unknown class {name!r}; this model's classes: "
                             f"{', '.join(self.classes)} (or {UNKNOWN_SOURCE!r} as a source)")
        return self.classes.index(name)

    def to_metadata(self) -> dict[str, Any]:
        """JSON-ready mapping (the export's metadata.json)."""
        return {"classes": list(self.classes), "autoencoder": self.autoencoder.to_dict(),
                "latent_stats": {"mean": list(self.latent_stats.mean),
                                 "std": list(self.latent_stats.std)},
                "image_size": self.image_size,
                "velocity": self.velocity,
                "data_version": self.data_version, "code_version": self.code_version,
                "training": self.training}

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> ModelCard:
        """The card of a metadata.json mapping.

        Raises:
            ValueError: a required entry is missing (the message names it).
        """
        missing = [k for k in ("classes", "autoencoder", "latent_stats", "image_size")
                   if meta.get(k) is None]
        if missing:
            raise ValueError(f"model metadata lacks {missing}: not a MedShift export of this "
                             f"version (re-run the training stages)")
        return cls(classes=tuple(meta["classes"]),
                   autoencoder=AutoencoderSpec.from_dict(meta["autoencoder"]),
                   latent_stats=LatentStats(tuple(meta["latent_stats"]["mean"]),
                                            tuple(meta["latent_stats"]["std"])),
                   image_size=int(meta["image_size"]), velocity=meta.get("velocity"),
                   data_version=meta.get("data_version"),
                   code_version=meta.get("code_version", "unknown"),
                   training=dict(meta.get("training") or {}))

    def with_velocity(self, spec: dict[str, Any], config: dict[str, Any]) -> ModelCard:
        """This card with a trained velocity model (``VelocitySpec.to_dict``) and its config."""
        return ModelCard(self.classes, self.autoencoder, self.latent_stats, self.image_size,
                         spec, self.data_version, __version__,
                         {**self.training, "velocity": config})

    def as_dict(self) -> dict[str, Any]:
        """Plain nested dict (dataclasses expanded), for logging."""
        return asdict(self)


def read_card(directory: Path | str) -> ModelCard:
    """The model card of an export directory.

    Raises:
        FileNotFoundError: not an export; ValueError: an incomplete card.
    """
    return ModelCard.from_metadata(read_metadata(directory))


def save_model(directory: Path, modules: dict[str, torch.nn.Module], card: ModelCard) -> None:
    """Write an export (weights + model card as metadata.json), atomically per file."""
    save_export(directory, modules, card.to_metadata())


def load_autoencoder(directory: Path | str) -> tuple[KLAutoencoder, ModelCard]:
    """The autoencoder and the card of an export (``models/autoencoder`` or
    ``models/medshift``)."""
    card = read_card(directory)
    model = KLAutoencoder(card.autoencoder)
    model.load_state_dict(read_weights(directory, "autoencoder"))
    return model.eval(), card
