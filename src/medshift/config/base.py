"""Loading a params.yaml section (with the active profile merged in) and the helpers every
section's dataclass uses to validate itself.

Defaults live in params.yaml; a dataclass default, where one exists, equals it
(tests/unit/test_config.py checks every one), so code and file cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A params.yaml section is missing, misspelt or out of range."""


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``, recursively for nested mappings (a profile that sets
    ``autoencoder.model.factor`` keeps the other ``model`` keys)."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def profile_path(params_path: Path | str, profile: str) -> Path:
    """``profiles/NAME.yaml`` next to the params file."""
    return Path(params_path).parent / "profiles" / f"{profile}.yaml"


def load_section(path: Path | str, section: str) -> dict[str, Any]:
    """Read one top-level section of a params file, with the active profile merged in.

    ``profile: NAME`` (default ``cpu``, the file itself) merges ``profiles/NAME.yaml`` next
    to the params file over the section (recursively), so switching to the GPU profile is
    one key.

    Raises:
        ConfigError: the section or the profile file is missing.
        OSError: the params file cannot be read.
    """
    with open(path, encoding="utf-8") as fh:
        params = yaml.safe_load(fh) or {}
    if section not in params:
        raise ConfigError(f"{path}: no '{section}:' section")
    profile = params.get("profile", "cpu")
    if profile == "cpu":
        return dict(params[section] or {})
    overlay_path = profile_path(path, profile)
    if not overlay_path.exists():
        raise ConfigError(f"{path}: profile {profile!r} needs {overlay_path}")
    overlay = yaml.safe_load(overlay_path.read_text(encoding="utf-8")) or {}
    return merge(params[section] or {}, overlay.get(section) or {})


def _coerce(value: Any, kind: Any, where: str) -> Any:
    """``value`` as the scalar type ``kind`` (int, float, bool, str, their unions and
    ``tuple[X, ...]``); other kinds pass through.

    YAML reads ``5e-05`` (no dot) as a string and ``dvc exp run -S`` writes floats that way,
    so a numeric string becomes a float or an integral int; a bool never stands for a number.

    Raises:
        ConfigError: ``value`` cannot be read as ``kind``; names ``where`` (the key).
    """
    origin, args = get_origin(kind), get_args(kind)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    members = args if origin in (Union, UnionType) else (kind,)
    if not all(m in _SCALARS for m in members):
        return value
    if any(type(value) is m for m in members):  # already right (bool is not an int here)
        return value
    for member in members:
        converted = _SCALARS[member](value)
        if converted is not None:
            return converted
    names = " or ".join("null" if m is type(None) else m.__name__ for m in members)
    raise ConfigError(f"{where}: expected {names}, got {value!r}")


def _to_float(value: Any) -> float | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _to_int(value: Any) -> int | None:
    number = value if isinstance(value, float) else _to_float(value)
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return None


_SCALARS: dict[Any, Any] = {
    float: _to_float,
    int: _to_int,
    bool: lambda value: None,
    str: lambda value: None,
    type(None): lambda value: None,
}


def from_mapping(cls: type[T], values: Mapping[str, Any], section: str) -> T:
    """``cls(**values)`` after rejecting unknown keys and reading each value as its field's
    type (YAML lists become tuples; numeric strings such as ``"5e-05"`` numbers).

    Raises:
        ConfigError: a key of ``values`` is not a field of ``cls``, a value cannot be read
            as its field's type (the message names ``params.<section>.<key>``), or a
            required key is missing.
    """
    assert is_dataclass(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(
            f"params.{section}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    hints = get_type_hints(cls)
    converted = {k: _coerce(tuple(v) if isinstance(v, list) else v, hints[k],
                            f"params.{section}.{k}") for k, v in values.items()}
    try:
        return cls(**converted)
    except TypeError as exc:  # a required key is missing
        raise ConfigError(f"params.{section}: {exc}") from None


def to_dict(obj: Any) -> Any:
    """A config dataclass as plain JSON/YAML data (tuples as lists, nested ones as dicts)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, tuple):
        return [to_dict(v) for v in obj]
    return obj


def check(section: str, checks: list[tuple[bool, str]]) -> None:
    """Raise ConfigError naming ``params.<section>`` for the first failed check."""
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"params.{section}: {message}")


def check_bf16(value: Any, section: str) -> None:
    """``bf16`` is true, false or "auto" (bf16 autocast where computed natively)."""
    if value not in ("auto", True, False):
        raise ConfigError(f"params.{section}.bf16 must be true, false or auto (bf16 autocast "
                          f"where the device computes bf16 natively)")
