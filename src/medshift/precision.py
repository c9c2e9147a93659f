"""bf16 autocast where the hardware computes in bf16 natively."""

from __future__ import annotations

import torch


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 convolutions natively: CUDA with bf16 support, or a CPU
    that oneDNN runs bf16 kernels on (AVX-512 / AMX x86, or ARM with BF16)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # a build without oneDNN
            return False
    return False


def use_bf16(setting: str | bool, device: torch.device) -> bool:
    """Resolve a ``bf16`` param: True / False as given, "auto" where it is native."""
    return native_bf16(device) if setting == "auto" else bool(setting)


def bf16_autocast(enabled: bool, device: torch.device) -> torch.autocast:
    """An autocast context to bf16 on ``device`` (a no-op when not ``enabled``)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)
