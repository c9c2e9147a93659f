"""Where the flows work: the repository (from this file, never the current directory),
its dvc.yaml stages, the params profile, and the GPUs a run may use."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from medshift.config.base import ConfigError, load_section, profile_path
from medshift.config.orchestration import OrchestrationConfig

# pipeline/orchestration/workspace.py -> the checkout; a process worker's cwd is a temp dir
REPO = Path(__file__).resolve().parents[2]
_PROFILE_LINE = re.compile(r"^(profile:[ \t]*)[^\s#]+", re.MULTILINE)


def resolve_root(repo: str | os.PathLike | None = None) -> Path:
    """The DVC repository the flow runs in: ``repo`` if given, else this checkout.

    Raises:
        FileNotFoundError: the folder has no dvc.yaml or params.yaml.
    """
    root = Path(repo).expanduser().resolve() if repo else REPO
    for name in ("dvc.yaml", "params.yaml"):
        if not (root / name).is_file():
            raise FileNotFoundError(f"{root}: no {name}; not a MedShift DVC repository")
    return root


def dvc_stages(root: Path) -> set[str]:
    """Stage names declared in ``root``/dvc.yaml."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")) or {}
    return set(stages.get("stages") or {})


def require_stages(root: Path, wanted: Iterable[str]) -> None:
    """Fail before anything runs when dvc.yaml lacks a stage the flow needs.

    Raises:
        ConfigError: naming the missing stages and dvc.yaml.
    """
    missing = [s for s in wanted if s not in dvc_stages(root)]
    if missing:
        raise ConfigError(f"{root / 'dvc.yaml'}: no stage {', '.join(map(repr, missing))}; "
                          f"the flow runs `dvc repro` on each of them")


def set_profile(params: Path, profile: str) -> bool:
    """Write ``profile: NAME`` into params.yaml (comments kept, atomic); True if it changed.

    Written into the file rather than passed on the side so that `dvc repro` records the
    profile in dvc.lock exactly as a manual edit or `dvc exp run -S profile=...` would.

    Raises:
        ConfigError: no top-level ``profile:`` line, or no profiles/NAME.yaml for NAME.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", profile):
        raise ConfigError(f"profile {profile!r}: expected a name like cpu or gpu")
    if profile != "cpu" and not profile_path(params, profile).is_file():
        raise ConfigError(f"profile {profile!r}: no {profile_path(params, profile)}")
    text = params.read_text(encoding="utf-8")
    if not _PROFILE_LINE.search(text):
        raise ConfigError(f"{params}: no top-level 'profile:' key to set")
    new = _PROFILE_LINE.sub(lambda m: m.group(1) + profile, text, count=1)
    if yaml.safe_load(new).get("profile") != profile:
        raise ConfigError(f"{params}: could not set profile to {profile!r}")
    if new == text:
        return False
    tmp = params.with_name(f".{params.name}.tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(params)
    return True


def orchestration_config(root: Path) -> OrchestrationConfig:
    """params.orchestration of ``root`` (the active profile merged in)."""
    return OrchestrationConfig.from_params(load_section(root / "params.yaml", "orchestration"))


def check_devices(nproc: int, env: Mapping[str, str], profile: str | None = None,
                  cuda_devices: int | None = None) -> None:
    """One process per visible GPU at most: the devices in ``CUDA_VISIBLE_DEVICES`` when it
    is set, else ``cuda_devices`` (what torch sees; None: not checked). Without any CUDA
    device, several processes are gloo ranks on the CPU, but ``profile`` gpu is refused.

    Raises:
        ConfigError: ``nproc`` < 1, more processes than visible devices, or the gpu profile
            on a machine without a CUDA device.
    """
    if not isinstance(nproc, int) or isinstance(nproc, bool) or nproc < 1:
        raise ConfigError(f"nproc={nproc!r}: expected an integer >= 1")
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip():
        devices = [d for d in visible.split(",") if d.strip()]
        if nproc > len(devices):
            raise ConfigError(f"nproc={nproc} but CUDA_VISIBLE_DEVICES={visible!r} shows "
                              f"{len(devices)} device(s): one torchrun process per GPU")
        return
    if cuda_devices is None:
        return
    if cuda_devices == 0 and profile == "gpu":
        raise ConfigError("profile gpu but torch sees no CUDA device: run the cpu profile "
                          "here (set CUDA_VISIBLE_DEVICES on a GPU worker)")
    if 0 < cuda_devices < nproc:
        raise ConfigError(f"nproc={nproc} but torch sees {cuda_devices} CUDA device(s): "
                          "one torchrun process per GPU")
