"""Inference exports on disk: safetensors weights + JSON metadata; no pickled code.

``save_export(dir, modules, metadata)`` writes ``weights.safetensors`` (keys prefixed by
module name) and ``metadata.json``; each model's loader (``load_classifier``,
``load_autoencoder``, ``load_medshift``) rebuilds it from them. This module knows no model,
so a stage that exports one model depends on that model's code only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from medshift import __version__


def save_export(directory: Path, modules: dict[str, torch.nn.Module],
                metadata: dict[str, Any]) -> None:
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


def read_metadata(directory: Path | str) -> dict[str, Any]:
    """An export's metadata.json.

    Raises:
        FileNotFoundError: no metadata.json in ``directory`` (not a model export).
    """
    path = Path(directory) / "metadata.json"
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: not a model export (no metadata.json)")
    return json.loads(path.read_text())


def read_weights(directory: Path | str, prefix: str) -> dict[str, torch.Tensor]:
    """The state dict of module ``prefix`` in an export's weights.safetensors."""
    tensors = load_file(str(Path(directory) / "weights.safetensors"))
    return {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
