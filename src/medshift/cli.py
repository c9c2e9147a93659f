"""``medshift`` console entry point: one subcommand per pipeline capability.

Each subcommand lives in ``medshift.commands.NAME`` (``add_arguments`` + ``run``), which
DVC runs directly, so editing this dispatcher re-runs no stage.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from medshift.commands import check_raw, ingest, registry, simulate, split, translate
from medshift.commands.common import guarded

COMMANDS = {"simulate": simulate, "ingest": ingest, "check-raw": check_raw, "split": split,
            "translate": translate, "registry": registry}


def build_parser() -> argparse.ArgumentParser:
    """The ``medshift`` parser with every subcommand's arguments."""
    parser = argparse.ArgumentParser(prog="medshift", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; bad input gives one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    return guarded(args.command, COMMANDS[args.command].run, args)


if __name__ == "__main__":
    raise SystemExit(main())
