"""Inference exports: safetensors weights + JSON metadata; no pickled code.

``save_export(dir, modules, metadata)`` writes ``weights.safetensors`` (keys prefixed by
module name) and ``metadata.json``; translation models carry a ``ModelCard`` as their
metadata (``save_model``), and ``load_medshift(dir)`` rebuilds everything from the two.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from medshift import __version__
from medshift.latents import LatentStats
from medshift.models.autoencoder import KLAutoencoder
from medshift.models.card import ModelCard
from medshift.models.classifier import DomainClassifier
from medshift.models.velocity import VelocityUNet


def save_export(directory: Path, modules: dict[str, torch.nn.Module], metadata: dict) -> None:
    """Atomically (per file) write weights and metadata (adds the code version)."""
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"{name}.{k}": v.detach().cpu().contiguous()
               for name, m in modules.items() for k, v in m.state_dict().items()}
    tmp = directory / ".weights.tmp.safetensors"
    # one header key: safetensors writes a multi-key metadata map in arbitrary order, which
    # made identical weights hash differently and re-ran downstream DVC stages
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, directory / "weights.safetensors")
    meta_tmp = directory / ".metadata.tmp.json"
    meta_tmp.write_text(json.dumps({**metadata, "code_version": __version__}, indent=2) + "\n")
    os.replace(meta_tmp, directory / "metadata.json")


def _weights(directory: Path, prefix: str) -> dict[str, torch.Tensor]:
    tensors = load_file(str(directory / "weights.safetensors"))
    return {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def read_metadata(directory: Path | str) -> dict[str, Any]:
    """metadata.json of an export directory.

    Raises:
        FileNotFoundError: the directory or its metadata.json does not exist.
    """
    path = Path(directory) / "metadata.json"
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: not a model export (no metadata.json)")
    return json.loads(path.read_text())


def save_model(directory: Path, modules: dict[str, torch.nn.Module], card: ModelCard) -> None:
    """Write a translation-model export (weights + model card) atomically per file."""
    save_export(directory, modules, card.to_metadata())


def read_card(directory: Path | str) -> ModelCard:
    """The model card of an export directory (see ``ModelCard.from_metadata``)."""
    return ModelCard.from_metadata(read_metadata(directory))


def load_autoencoder(directory: Path | str) -> tuple[KLAutoencoder, ModelCard]:
    """The autoencoder and the card of an export directory (autoencoder or MedShift)."""
    card = read_card(directory)
    model = KLAutoencoder(card.autoencoder)
    model.load_state_dict(_weights(Path(directory), "autoencoder"))
    return model.eval(), card


def load_classifier(directory: Path | str) -> tuple[DomainClassifier, dict]:
    """The domain/dose classifier and its metadata from an export directory."""
    directory = Path(directory)
    meta = read_metadata(directory)
    model = DomainClassifier(len(meta["classes"]), meta["width"])
    model.load_state_dict(_weights(directory, "classifier"))
    return model.eval(), meta


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
    velocity = VelocityUNet(card.velocity)
    velocity.load_state_dict(_weights(directory, "velocity"))
    return MedShiftModel(autoencoder, velocity.eval(), card).to(device)
