"""``medshift registry list|promote|rollback|reevaluate``: the MLflow model registry.

The library never imports MLflow: this subcommand hands its arguments to the repository's
``pipeline.registry`` (the pipeline extra), found at run time.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

HELP = "the MLflow model registry: list, promote, rollback, reevaluate (pipeline extra)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Everything after ``registry`` goes to ``pipeline.registry``."""
    p.add_argument("args", nargs=argparse.REMAINDER,
                   help="list | promote VERSION --reason TEXT | rollback | reevaluate "
                        "[--model URI]")


def run(args: argparse.Namespace) -> int:
    """``pipeline.registry.main(args)``; 2 with one line when the pipeline is not there."""
    if importlib.util.find_spec("mlflow") is None:
        print("medshift registry: error: MLflow is not installed (pip install -e "
              "'.[pipeline]')", file=sys.stderr)
        return 2
    try:
        registry = importlib.import_module("pipeline.registry")
    except ImportError as exc:
        print(f"medshift registry: error: the repository's pipeline package is not importable "
              f"({exc}); run it from a clone of the repository", file=sys.stderr)
        return 2
    try:
        return int(registry.main(args.args))
    except SystemExit as exc:  # its usage errors (one line printed, status 2)
        return exc.code if isinstance(exc.code, int) else 2
