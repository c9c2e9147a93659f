"""``medshift translate``: a researcher's own X-ray files from one domain to another (see
``medshift.translation.cli``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from medshift.commands.common import standalone
from medshift.translation.cli import add_arguments, run_translate

HELP = "translate DICOM/PNG/TIFF files between domains"


def run(args: argparse.Namespace) -> int:
    """0 when every input was translated, 1 when some were skipped, 2 on a usage error."""
    return run_translate(args)


def main(argv: Sequence[str] | None = None) -> int:
    return standalone("translate", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
