"""Inference exports: safetensors weights + JSON metadata; no pickled code.

``save_export(dir, modules, metadata)`` writes ``weights.safetensors`` (keys prefixed by
module name) and ``metadata.json``; ``load_medshift(dir)`` rebuilds everything from them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from medshift import __version__
from medshift.latents import LatentStats
from medshift.models.autoencoder import AutoencoderSpec, KLAutoencoder
from medshift.models.classifier import DomainClassifier
from medshift.models.velocity import VelocitySpec, VelocityUNet


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


def load_autoencoder(directory: Path) -> tuple[KLAutoencoder, dict]:
    """The autoencoder and its metadata from an export directory."""
    meta = json.loads((Path(directory) / "metadata.json").read_text())
    model = KLAutoencoder(AutoencoderSpec(**meta["autoencoder"]))
    model.load_state_dict(_weights(Path(directory), "autoencoder"))
    return model.eval(), meta


def load_classifier(directory: Path | str) -> tuple[DomainClassifier, dict]:
    """The domain/dose classifier and its metadata from an export directory."""
    directory = Path(directory)
    meta = json.loads((directory / "metadata.json").read_text())
    model = DomainClassifier(len(meta["classes"]), meta["width"], meta.get("texture", False))
    model.load_state_dict(_weights(directory, "classifier"))
    return model.eval(), meta


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
    spec = meta["velocity"]
    velocity = VelocityUNet(VelocitySpec(spec["channels"], spec["n_classes"],
                                         spec["base_channels"], tuple(spec["channel_mults"])))
    velocity.load_state_dict(_weights(directory, "velocity"))
    stats = LatentStats(tuple(meta["latent_stats"]["mean"]), tuple(meta["latent_stats"]["std"]))
    return MedShiftModel(autoencoder, velocity.eval(), stats, tuple(meta["classes"]), meta)
