"""Architecture rules that must keep holding (STYLE.md practice 1, and layers that point
down: a package imports only from lower layers, so models never import evaluation,
config never imports the simulator, and no two folders import each other)."""

from __future__ import annotations

import re
from pathlib import Path

import medshift
from tests.imports import REPO, imported_modules

FORBIDDEN = re.compile(r"^\s*(import|from)\s+(prefect|mlflow|dvc)\b", re.MULTILINE)

# bottom first; a module may import its own folder and any lower layer, nothing else
LAYERS: list[set[str]] = [
    {"__init__", "io", "signal", "seeding", "precision", "acquisition"},  # top-level modules
    {"latents"},         # the device boundary of the latent space: per-image seeded decoding
    {"flow"},
    {"models"},
    {"config"},          # section dataclasses nest the model specs
    {"data"},
    {"translation"},
    {"evaluation"},
    {"simulate", "training"},
    {"commands"},
    {"cli"},
]


def _unit(module: str) -> str:
    """medshift.models.layers -> models; medshift.io -> io; medshift -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _rank(unit: str) -> int:
    ranks = [k for k, layer in enumerate(LAYERS) if unit in layer]
    assert ranks, f"medshift.{unit} is in no layer of test_boundaries.LAYERS: place it"
    return ranks[0]


def test_library_never_imports_orchestration_or_tracking():
    root = Path(medshift.__file__).parent
    offenders = [p.name for p in root.rglob("*.py") if FORBIDDEN.search(p.read_text())]
    assert offenders == []


def test_layers_point_down():
    src = REPO / "src"
    upward = []
    for path in sorted((src / "medshift").rglob("*.py")):
        module = ".".join(path.relative_to(src).with_suffix("").parts)
        unit = _unit(module)
        for target in imported_modules(path):
            other = _unit(target)
            if other != unit and target != "medshift" and _rank(other) >= _rank(unit):
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_readme_test_command_is_what_ci_runs():
    ci = (REPO / ".ci/run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "README.md" in ci and 'pip install -e ".[dev]"' in readme
