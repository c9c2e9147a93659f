"""Architecture rules that must keep holding (STYLE.md practice 1)."""

from __future__ import annotations

import re
from pathlib import Path

import medshift

FORBIDDEN = re.compile(r"^\s*(import|from)\s+(prefect|mlflow|dvc)\b", re.MULTILINE)


def test_library_never_imports_orchestration_or_tracking():
    root = Path(medshift.__file__).parent
    offenders = [p.name for p in root.rglob("*.py") if FORBIDDEN.search(p.read_text())]
    assert offenders == []


def test_readme_test_command_is_what_ci_runs():
    repo = Path(__file__).resolve().parents[2]
    ci = (repo / ".ci/run").read_text()
    readme = (repo / "README.md").read_text()
    assert "README.md" in ci and 'pip install -e ".[dev]"' in readme
