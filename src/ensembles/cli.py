"""The ``ensembles`` command line.

Each subcommand lives in ``ensembles.commands.<name>`` and exposes ``add_parser(subparsers)`` (which must
call ``parser.set_defaults(func=run)``) and ``run(args) -> int``.  A user mistake raises
:class:`UsageError` (or ValueError/FileNotFoundError/...) and is reported as one line on stderr with a
non-zero exit, never a traceback.  Set ``ENSEMBLES_DEBUG=1`` to see the traceback anyway.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# order = order in --help
SUBCOMMANDS = ("datasets", "inspect", "train", "analyze", "report", "demo", "reproduce", "sweep", "sweep_status",
               "import_nwb", "export_nwb")


class UsageError(Exception):
    """A user mistake: reported as one line, exit status 2."""


# errors that come from bad input rather than bugs: one line, no traceback
USER_ERRORS = (UsageError, ValueError, TypeError, FileNotFoundError, FileExistsError, PermissionError,
               IsADirectoryError, NotADirectoryError, KeyError, OSError)


def build_parser() -> argparse.ArgumentParser:
    from ensembles import __version__

    parser = argparse.ArgumentParser(
        prog="ensembles",
        description="Neuroscience-style analysis of representations in FF/BP-trained networks.",
    )
    parser.add_argument("--version", action="version", version=f"ensembles {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"ensembles.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"ensembles.commands.{name}":
                continue  # subcommand not available in this build
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("ensembles: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        if os.environ.get("ENSEMBLES_DEBUG"):
            raise
        msg = str(err) if not isinstance(err, KeyError) else str(err.args[0] if err.args else err)
        print(f"ensembles {args.command}: error: {msg}", file=sys.stderr)
        return 2
