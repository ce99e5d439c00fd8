"""The exceptions ``ensembles`` raises for mistakes in what it was given, and for problems of its environment.

The command line turns these (and only these, plus the operating system's own errors about files) into a
one-line message naming the parameter or file and what to do; anything else is a bug and keeps its traceback.
Each class also derives from the built-in exception a Python user would expect (``ValueError`` for a bad value,
``TypeError`` for a bad type, ...), as scikit-learn's ``NotFittedError(ValueError, AttributeError)`` does, so
``except ValueError`` keeps working in user code.
"""

from __future__ import annotations

__all__ = [
    "EnsemblesError", "ParameterError", "InputTypeError", "DataFileError", "OutputDirError",
    "ResourceError", "DivergenceError",
]


class EnsemblesError(Exception):
    """Base class: a user or environment mistake, reported as one line by the command line."""


class ParameterError(EnsemblesError, ValueError):
    """A parameter has a value outside what is accepted (the message names it, the expectation and the value)."""


class InputTypeError(EnsemblesError, TypeError):
    """A parameter has a type that is not accepted (``bool`` where an ``int`` is expected, a list for an array...)."""


class DataFileError(EnsemblesError, ValueError):
    """A file we read is missing parts, corrupt (checksum mismatch), foreign, or of another schema version."""


class OutputDirError(EnsemblesError, FileExistsError):
    """An output directory is in use by another process, or holds files this command did not write."""


class ResourceError(EnsemblesError, OSError):
    """The environment refused: disk full, no such device, too many threads, permission denied."""


class DivergenceError(EnsemblesError, RuntimeError):
    """Training produced non-finite losses or activations."""
