"""What the subcommands share: registering one, the arguments that mean the same in several, and the checks and
warning output of the commands that write one file.

A command module ``ensembles.commands.<name>`` holds its description as its docstring (the first paragraph is the
summary for readers of the code; the rest is the ``--help`` description) and calls::

    def add_parser(subparsers):
        p = add_command(subparsers, __name__, help="one line for 'ensembles --help'")
        p.add_argument(...)            # only what is its own
        return p

:func:`add_command` names the subcommand after the module (``sweep_status`` -> ``sweep-status``) and binds the
module's ``run(args) -> int`` when the parser is built (so tests may patch ``run``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["add_command", "switches", "add_overrides", "output_file", "reported_warnings"]

QUIET = "no progress output (results and errors only)"


def add_command(subparsers, module_name: str, *, help: str) -> argparse.ArgumentParser:
    """Register the subcommand of module ``module_name``: its name, one-line ``help``, the description (the module
    docstring after its first paragraph) and ``func=<module>.run``."""
    module = sys.modules[module_name]
    _, _, body = (module.__doc__ or "").partition("\n\n")
    parser = subparsers.add_parser(module_name.rsplit(".", 1)[-1].replace("_", "-"), help=help,
                                   description=" ".join(body.split()) or None)
    parser.set_defaults(func=module.run)
    return parser


def switches(parser, **helps: str) -> None:
    """Add boolean options (``store_true``) in the order given: ``switches(p, dry_run="...")`` adds ``--dry-run``."""
    for dest, text in helps.items():
        parser.add_argument("--" + dest.replace("_", "-"), action="store_true", help=text)


def add_overrides(parser, help: str) -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``, parsed by ``ensembles.train.config.parse_override``."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help)


def output_file(path: str, force: bool, example: str) -> Path:
    """``--out`` of a command that writes one file: refused when it exists (unless ``--force``) or is a directory
    (the message suggests a file name such as ``example``)."""
    out = Path(path)
    if out.exists() and not force:
        raise FileExistsError(f"{str(out)!r} exists; pass --force to overwrite it.")
    if out.is_dir():
        raise IsADirectoryError(f"--out {str(out)!r} is a directory; give a file name such as {example}.")
    return out


@contextmanager
def reported_warnings(command: str) -> Iterator[None]:
    """Catch every warning of the block; print ours as one line each (``ensembles CMD: warning (Class): ...``) and
    others as Python does, when the block ends."""
    from ensembles._validation import EnsemblesWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        if issubclass(w.category, EnsemblesWarning):
            print(f"ensembles {command}: warning ({w.category.__name__}): {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
