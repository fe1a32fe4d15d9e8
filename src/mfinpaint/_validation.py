"""Checks shared by the public functions. Each raises an error naming the value."""

import numbers

import numpy as np

from .errors import InvalidInputError, InvalidParameterError


def check_int(name, value, minimum, maximum=None):
    """Return ``value`` as int after checking ``minimum <= value <= maximum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameterError(f"{name} must be an integer, got {value!r}.")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise InvalidParameterError(
            f"{name} must be at least {minimum}{upper}, got {value}."
        )
    return int(value)


def check_float(name, value, minimum=0.0, maximum=None, open_max=False):
    """Return ``value`` as float after checking it is finite and in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{name} must be a number, got {value!r}.")
    value = float(value)
    if not np.isfinite(value):
        raise InvalidParameterError(f"{name} must be finite, got {value}.")
    if value < minimum:
        raise InvalidParameterError(f"{name} must be at least {minimum}, got {value}.")
    if maximum is not None and (value >= maximum if open_max else value > maximum):
        bound = "below" if open_max else "at most"
        raise InvalidParameterError(f"{name} must be {bound} {maximum}, got {value}.")
    return value


def check_choice(name, value, choices):
    """Return ``value`` after checking it is one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise InvalidParameterError(f"{name} must be one of {options}, got {value!r}.")
    return value


def check_matrix_and_mask(Y, mask):
    """Return ``(Y, missing)`` as a float array and a bool array of one shape.

    With ``mask=None`` the NaN entries of ``Y`` are missing. Observed entries
    must be finite. At least one entry must be observed.
    """
    Y = np.asarray(Y)
    if Y.dtype == object or not np.issubdtype(Y.dtype, np.number) or np.iscomplexobj(Y):
        raise InvalidInputError(f"Y must be a real numeric array, got dtype {Y.dtype}.")
    if Y.ndim != 2:
        raise InvalidInputError(
            f"Y must be a 2-D array, got shape {Y.shape}. For images use "
            "mfinpaint.inpaint, which handles color channels."
        )
    if Y.size == 0:
        raise InvalidInputError(f"Y must not be empty, got shape {Y.shape}.")

    if mask is None:
        missing = np.isnan(Y)
    else:
        missing = np.asarray(mask)
        if missing.dtype != bool:
            raise InvalidInputError(
                f"mask must be a bool array (True = missing), got dtype {missing.dtype}."
            )
        if missing.shape != Y.shape:
            raise InvalidInputError(
                f"mask shape {missing.shape} differs from Y shape {Y.shape}."
            )

    bad = ~missing & ~np.isfinite(Y)
    if bad.any():
        raise InvalidInputError(
            f"Y has {int(bad.sum())} observed entries that are NaN or infinite. "
            "Mark them as missing in the mask or replace them."
        )
    if missing.all():
        raise InvalidInputError("every entry is missing, so there is nothing to fit.")
    return Y, missing
