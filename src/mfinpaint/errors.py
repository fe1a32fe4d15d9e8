"""Exceptions and warnings raised by mfinpaint.

Every error is a subclass of :class:`MfinpaintError` and of the standard
exception that fits it, so callers can catch either.
"""

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
