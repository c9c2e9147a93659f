"""Static (AST) first-party import graph of src/medshift and pipeline, for the tests that
keep dvc.yaml and the layer order honest. Imports inside functions count; imports under
``if TYPE_CHECKING:`` do not (they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"medshift": REPO / "src", "pipeline": REPO}


def module_file(name: str) -> Path | None:
    """The file of a first-party module (package: its __init__.py), else None."""
    root = ROOTS.get(name.split(".")[0])
    if root is None:
        return None
    base = root.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imported_modules(path: Path) -> set[str]:
    """Every first-party module ``path`` imports, anywhere in the file (function-level
    imports too), with the packages on the way (their __init__ runs)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    out = set()
    for name in names:
        parts = name.split(".")
        out.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
    return {n for n in out if module_file(n) is not None}


def closure(module: str) -> set[Path]:
    """Files of ``module`` and everything it imports, transitively (first-party only)."""
    seen: set[str] = set()
    parts = module.split(".")
    todo = {".".join(parts[:k]) for k in range(1, len(parts) + 1)}
    while todo:
        name = todo.pop()
        if name in seen or module_file(name) is None:
            continue
        seen.add(name)
        todo |= imported_modules(module_file(name)) - seen
    return {module_file(n) for n in seen}  # type: ignore[misc]


def inert(path: Path) -> bool:
    """A file whose execution cannot change an output: docstring and __future__ only."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all((isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
               or (isinstance(n, ast.ImportFrom) and n.module == "__future__") for n in body)


def needed(module: str) -> set[str]:
    """Repository-relative code files a stage running ``module`` depends on."""
    return {str(p.relative_to(REPO)) for p in closure(module) if not inert(p)}
