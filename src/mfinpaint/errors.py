"""Exceptions and warnings raised by mfinpaint.

Every error is a subclass of :class:`MfinpaintError` and of the standard
exception that fits it, so callers can catch either.
"""

import re
import warnings

__all__ = [
    "MfinpaintError",
    "InvalidParameterError",
    "InvalidInputError",
    "ImageReadError",
    "ImageWriteError",
    "SingularSystemError",
    "ClusterError",
    "ConvergenceWarning",
    "ScaleWarning",
]


class MfinpaintError(Exception):
    """Base class of the errors raised by mfinpaint."""


class InvalidParameterError(MfinpaintError, ValueError, TypeError):
    """A parameter has the wrong type or is outside its valid range.

    It is a TypeError as well as a ValueError, so either ``except`` catches it.
    """


class InvalidInputError(MfinpaintError, ValueError):
    """An array, mask or image cannot be used as input."""


class ImageReadError(MfinpaintError, OSError):
    """An image or mask file cannot be read or decoded."""


class ImageWriteError(MfinpaintError, OSError):
    """An output file cannot be written."""


class SingularSystemError(MfinpaintError, ValueError):
    """The normal equations of a half-step have no unique solution."""


class ClusterError(MfinpaintError, OSError):
    """The Dask scheduler cannot be reached or a local Dask cluster cannot start."""


class ConvergenceWarning(UserWarning):
    """The solver stopped at ``max_iter`` before meeting its tolerance."""


class ScaleWarning(UserWarning):
    """A weight (rho, lam or lam1) is far larger than the values of the data."""


# A number in a warning message, such as 3, 0.01 or 1e-05.
_NUMBER = re.compile(r"\d+(\.\d*)?(e[+-]?\d+)?")


def warn_once_per_kind(sources, unit, stacklevel=2):
    """Raise again the warnings of several fits, each kind once.

    ``sources`` is a list with one list of ``(category, message)`` pairs per
    fit, and ``unit`` names what a fit covers ("tile", "channel"). Messages
    that differ only in their numbers, such as the largest observed value
    of each fit in a ScaleWarning, are one kind. The first message of a
    kind is shown with the number of fits that raised it, unless there is
    only one fit.
    """
    kinds = {}
    for pairs in sources:
        source_kinds = {}
        for category, message in pairs:
            source_kinds.setdefault((category, _NUMBER.sub("#", message)), message)
        for key, message in source_kinds.items():
            first, count = kinds.get(key, (message, 0))
            kinds[key] = (first, count + 1)
    for (category, _), (message, count) in kinds.items():
        if len(sources) > 1:
            message = f"{message} (in {count} of {len(sources)} {unit}s)"
        warnings.warn(message, category, stacklevel=stacklevel + 1)
