"""dvc.yaml cannot drift from the code: each stage's deps name exactly the code its entry
module imports (static AST closure within src/medshift and pipeline), and its params name
exactly the params.yaml sections that code loads, plus the profile overlay's.

    python tests/unit/test_stage_deps.py STAGE   # prints the code deps a stage needs
"""

from __future__ import annotations

import ast
import re
import sys

import pytest
import yaml

from tests.imports import REPO, inert, needed

CODE = ("src/", "pipeline/")


def entry_module(cmd: str) -> str:
    match = re.search(r"python -m ([\w.]+)", cmd)
    assert match, f"stage command {cmd!r} is not `python -m MODULE`: its code is unknown"
    return match.group(1)


def sections_loaded(files: set[str]) -> set[str]:
    """params.yaml sections the code loads: ``load_section(path, "NAME")`` calls."""
    sections = set()
    for rel in files:
        for node in ast.walk(ast.parse((REPO / rel).read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(
                    node.func, "attr", None)) == "load_section" and len(node.args) == 2
                    and isinstance(node.args[1], ast.Constant)):
                sections.add(node.args[1].value)
    return sections


def stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _params(stage: dict) -> dict[str, set[str]]:
    """params.yaml keys and other files' keys a stage declares, by file."""
    out: dict[str, set[str]] = {"params.yaml": set()}
    for entry in stage.get("params", []):
        if isinstance(entry, str):
            out["params.yaml"].add(entry)
        else:
            for file, keys in entry.items():
                out.setdefault(file, set()).update(keys)
    return out


@pytest.mark.parametrize("name", sorted(stages()))
def test_code_deps_are_exactly_what_the_stage_imports(name):
    stage = stages()[name]
    want = needed(entry_module(stage["cmd"]))
    deps = [d for d in stage["deps"] if d.startswith(CODE)]
    covered = {f for f in want for d in deps if f == d or f.startswith(d.rstrip("/") + "/")}
    assert want - covered == set(), f"{name}: code it imports but does not list"
    for dep in deps:
        path = REPO / dep
        files = ({dep} if path.is_file() else
                 {str(p.relative_to(REPO)) for p in path.rglob("*.py") if not inert(p)})
        assert files and files <= want, f"{name}: lists {dep} but does not import {files - want}"


@pytest.mark.parametrize("name", sorted(stages()))
def test_params_are_exactly_the_sections_the_stage_loads(name):
    stage = stages()[name]
    loaded = sections_loaded(needed(entry_module(stage["cmd"])))
    declared = _params(stage)
    listed = {key.split(".")[0] for key in declared["params.yaml"]} - {"profile"}
    assert listed == loaded, f"{name}: params list {listed}, code loads {loaded}"
    assert ("profile" in declared["params.yaml"]) == bool(loaded)
    overlay = yaml.safe_load((REPO / "profiles/gpu.yaml").read_text()) or {}
    expected = set()
    for key in declared["params.yaml"] - {"profile"}:
        section, _, sub = key.partition(".")
        if section in overlay and (not sub or sub in overlay[section]):
            expected.add(key)
    assert declared.get("profiles/gpu.yaml", set()) == expected, (
        f"{name}: the gpu profile is merged over {sorted(expected)}; declare exactly those")


if __name__ == "__main__":
    for stage_name in sys.argv[1:] or sorted(stages()):
        module = entry_module(stages()[stage_name]["cmd"])
        files = needed(module)
        print(f"{stage_name} ({module}): loads {sorted(sections_loaded(files))}")
        print("\n".join(f"  - {f}" for f in sorted(files)))
