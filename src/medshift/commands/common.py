"""What every subcommand module shares: its ``main`` turns errors into one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def guarded(name: str, run: Callable[[argparse.Namespace], int], args: argparse.Namespace
            ) -> int:
    """``run(args)``; bad input (ValueError, OSError, RuntimeError) prints one line naming
    the command and returns 2 instead of a traceback."""
    try:
        return run(args)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"medshift {name}: error: {exc}", file=sys.stderr)
        return 2


def standalone(name: str, description: str | None,
               add_arguments: Callable[[argparse.ArgumentParser], None],
               run: Callable[[argparse.Namespace], int], argv: Sequence[str] | None) -> int:
    """A subcommand run as its own module (``python -m medshift.commands.NAME``)."""
    parser = argparse.ArgumentParser(prog=f"medshift {name}", description=description)
    add_arguments(parser)
    return guarded(name, run, parser.parse_args(argv))
