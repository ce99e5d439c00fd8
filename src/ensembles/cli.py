"""The ``ensembles`` command line.

Each subcommand lives in ``ensembles.commands.<name>`` and exposes ``add_parser(subparsers)`` (which must
call ``parser.set_defaults(func=run)``) and ``run(args) -> int``.  A user or environment mistake raises an
:class:`~ensembles.errors.EnsemblesError` (``ParameterError``, ``DataFileError``, ..., or :class:`UsageError`), or
is one of the operating system's own errors about a path the user gave (``FileNotFoundError``, ``PermissionError``,
``IsADirectoryError``, ``NotADirectoryError``, ``FileExistsError``); these are reported as one line on stderr with
exit status 2.  Anything else is a bug and propagates with its traceback.  Set ``ENSEMBLES_DEBUG=1`` to see the
traceback of a user error too.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from ensembles.errors import EnsemblesError

# order = order in --help
SUBCOMMANDS = ("datasets", "inspect", "train", "analyze", "report", "demo", "reproduce", "sweep", "sweep_status",
               "import_nwb", "export_nwb")


class UsageError(EnsemblesError):
    """A user mistake: reported as one line, exit status 2."""


# errors that come from bad input or the environment rather than bugs: one line, no traceback.  Only our own
# exceptions and the OS's errors about paths: a plain ValueError/TypeError/KeyError/OSError from our code or a
# library is a bug (or an unconverted raise site) and keeps its traceback.
USER_ERRORS = (EnsemblesError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
               FileExistsError)


class _Parser(argparse.ArgumentParser):
    """argparse with a mistake on the command line reported as one line naming the problem and the --help to read
    (instead of the whole usage), exit status 2.  Subcommand parsers are of this class too."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def parse_args(self, args=None, namespace=None):
        """As argparse's, except that an unknown option is reported by the subcommand it was given to."""
        ns, extra = self.parse_known_args(args, namespace)
        if extra:
            sub = self.subcommands.get(getattr(ns, "command", None) or "") if hasattr(self, "subcommands") else None
            (sub or self).error(f"unrecognized arguments: {' '.join(extra)}")
        return ns


def build_parser() -> argparse.ArgumentParser:
    from ensembles import __version__

    parser = _Parser(
        prog="ensembles",
        description="Neuroscience-style analysis of representations in FF/BP-trained networks.",
    )
    parser.add_argument("--version", action="version", version=f"ensembles {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.subcommands = sub.choices  # name -> subcommand parser
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
        print(f"ensembles {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (OSError, MemoryError) as err:
        message = environment_error(err)
        if message is None or os.environ.get("ENSEMBLES_DEBUG"):
            raise
        print(f"ensembles {args.command}: error: {message}", file=sys.stderr)
        return 2


# what the environment refused, whatever code path met it: never a bug of ours (one line, exit status 2)
_ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "the file-size limit (ulimit -f) was reached",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the file system is read-only",
    errno.ENAMETOOLONG: "a file name is longer than the file system allows",
    errno.EMFILE: "too many open files (ulimit -n)",
    errno.ENFILE: "too many open files in the system",
    errno.EIO: "an input/output error of the device",
}


def environment_error(err: BaseException) -> str | None:
    """The one-line message for a failure of the environment (a full disk, a file-size limit, a name too long, no
    memory), or None for anything else (a bug: it keeps its traceback)."""
    if isinstance(err, MemoryError):
        return ("out of memory (MemoryError); the data does not fit in the memory this process may use: free some "
                "memory, raise the limit (ulimit -v), or use a smaller input.")
    code = getattr(err, "errno", None)
    if code not in _ENVIRONMENT_ERRNOS:
        return None
    name = getattr(err, "filename", None)
    where = f" while writing or reading {str(name)!r}" if name else ""
    detail = " ".join((getattr(err, "strerror", None) or str(err)).split())[:200]  # one line (HDF5's span several)
    return (f"{_ENVIRONMENT_ERRNOS[code]}{where} ({detail}). Free space or raise the limit, or choose another "
            "output, and run the command again.")
