"""LPIPS (Zhang et al. 2018) with its ImageNet backbone, only when the backbone's weights are
already in a local torch cache: a random backbone's number would mean nothing, so without
the weights the score is None and the reason is reported."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# torchvision's file names for the ImageNet backbones LPIPS builds on
BACKBONE_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth",
                  "squeeze": "squeezenet1_1-b8a52dc0.pth"}


def lpips_unavailable(torch_home: str | None, net: str = "alex") -> str | None:
    """Why LPIPS cannot be computed here, or None when it can.

    Args:
        torch_home: a TORCH_HOME directory (weights under ``hub/checkpoints/``); None: off.
        net: LPIPS backbone, "alex", "vgg" or "squeeze".
    """
    if net not in BACKBONE_FILES:
        return f"unknown LPIPS backbone {net!r}; known: {sorted(BACKBONE_FILES)}"
    if torch_home is None:
        return "no torch cache path in params (evaluate.lpips_torch_home)"
    weights = Path(torch_home).expanduser() / "hub" / "checkpoints" / BACKBONE_FILES[net]
    if not weights.is_file():
        return f"no {net} ImageNet backbone weights at {weights} (offline: none downloaded)"
    try:
        import lpips  # noqa: F401
    except ImportError:
        return "the lpips package is not installed (pip install 'medshift[lpips]')"
    return None


def lpips_distance(preds: np.ndarray, target: np.ndarray, torch_home: str, net: str = "alex",
                   batch: int = 64) -> np.ndarray:
    """LPIPS per image pair, grey images repeated to three channels and scaled to [-1, 1].

    Args:
        preds, target: (N, 1, H, W) float32 in [0, 1].
        torch_home: TORCH_HOME holding the backbone weights (checked by lpips_unavailable).
        net: LPIPS backbone.

    Returns:
        (N,) float64, lower is more similar.

    Raises:
        RuntimeError: the weights or the package are missing (call lpips_unavailable first).
    """
    reason = lpips_unavailable(torch_home, net)
    if reason is not None:
        raise RuntimeError(reason)
    import lpips
    import torch

    os.environ["TORCH_HOME"] = str(Path(torch_home).expanduser())
    model = lpips.LPIPS(net=net, verbose=False).eval()
    to3 = lambda a: torch.as_tensor(a).repeat(1, 3, 1, 1) * 2 - 1  # noqa: E731
    out = []
    with torch.no_grad():
        for k in range(0, len(preds), batch):
            out.append(model(to3(preds[k:k + batch]), to3(target[k:k + batch])).flatten())
    return torch.cat(out).double().numpy()
