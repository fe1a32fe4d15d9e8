"""Checks shared by the public functions. Each raises an error naming the value."""

import numbers

import numpy as np

from .errors import InvalidInputError, InvalidParameterError, SingularSystemError

# Largest accepted rho and lam. Above it the float64 products of the
# conjugate-gradient solver overflow (measured from lam = 1e120).
# NOTE: with dtype float32 the solvers can overflow or lose precision at far
# smaller weights (cg from about 1e15), which ends in SingularSystemError.
MAX_WEIGHT = 1e100


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


def check_weight(name, value):
    """Return the penalty weight ``value`` (rho or lam) as a float in [0, MAX_WEIGHT]."""
    return check_float(name, value, 0.0, MAX_WEIGHT)


def check_flag(name, value):
    """Return ``value`` after checking it is a bool (NumPy bools included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidParameterError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_segments(segments, length):
    """Return ``segments`` as a list of positive ints that add up to ``length``.

    None (one segment of every column) is returned as it is.
    """
    if segments is None:
        return None
    try:
        values = list(segments)
    except TypeError:
        values = None
    if values is None or isinstance(segments, str) or not values:
        raise InvalidParameterError(
            f"column_segments must be a non-empty sequence of ints, got {segments!r}."
        )
    for value in values:
        check_int("column_segments entry", value, 1)
    if sum(values) != length:
        raise InvalidParameterError(
            f"column_segments {values} add up to {sum(values)}, but Y has {length} "
            "columns. Give lengths that add up to the number of columns."
        )
    return [int(value) for value in values]


def check_callback(callback):
    """Return ``callback`` after checking it is None or callable."""
    if callback is not None and not callable(callback):
        raise InvalidParameterError(f"callback must be callable, got {callback!r}.")
    return callback


def check_choice(name, value, choices):
    """Return ``value`` after checking it is one of ``choices``.

    A value matches only a choice of its own kind, because True equals 1 and
    1.0 equals 1 in Python.
    """
    if not any(_same_kind(value, choice) and value == choice for choice in choices):
        options = ", ".join(repr(c) for c in choices)
        raise InvalidParameterError(f"{name} must be one of {options}, got {value!r}.")
    return value


def _same_kind(value, choice):
    if isinstance(choice, str):
        return isinstance(value, str)
    if isinstance(choice, numbers.Integral):
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return True


def check_channel_axis(channel_axis, ndim):
    """Return ``channel_axis`` after checking it is None or an axis of an ndim array."""
    if channel_axis is None:
        return None
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, numbers.Integral):
        raise InvalidParameterError(
            f"channel_axis must be None or an integer, got {channel_axis!r}."
        )
    if not -ndim <= channel_axis < ndim:
        raise InvalidParameterError(
            f"channel_axis {channel_axis} is out of range for an image with {ndim} "
            f"axes; use a value from {-ndim} to {ndim - 1}."
        )
    return int(channel_axis)


def check_image_values(values, missing):
    """Check an image in channel-last order against its mask of missing values.

    Observed values must be finite and in [0, 1], and at least one pixel must
    be observed. The messages speak of an image, where SmoothMF speaks of a
    matrix ``Y``.
    """
    if values.size == 0:
        raise InvalidInputError(f"the image is empty, got shape {values.shape}.")
    _check_observed_finite(values, missing, "the image has", "values")
    if missing.all():
        raise InvalidInputError(
            "the mask marks every pixel as missing, so there is nothing to restore "
            "from. Use a mask that keeps some pixels."
        )
    _check_unit_range(values[~missing])


def _check_unit_range(observed):
    """Raise InvalidInputError unless float pixel values lie in [0, 1].

    Restored pixels are clipped to [0, 1], so an image on another scale (0 to
    255, say) would come back with its restored pixels clipped.
    """
    low, high = float(observed.min()), float(observed.max())
    if low < 0.0 or high > 1.0:
        raise InvalidInputError(
            f"float images must have values in [0, 1], but the observed pixels "
            f"range from {low:g} to {high:g}. Scale the image to [0, 1] (divide "
            "8-bit values by 255) or pass it as uint8 or uint16."
        )


def check_channels_observed(missing, color):
    """Raise InvalidInputError if a channel that is fitted alone has no observed pixel.

    ``missing`` is the channel-last mask of an image. ``"joint"`` fits all
    channels together and needs one observed value in any channel. Otherwise
    every channel is fitted alone, and ``"luma"`` on 3 channels treats a pixel
    missing in any channel as missing in all of them.
    """
    count = missing.shape[-1]
    if color == "joint" or count == 1:
        return
    empty = [c for c in range(count) if missing[..., c].all()]
    if empty:
        raise InvalidInputError(
            f"channel {empty[0]} has no observed pixel, so it cannot be fitted on "
            "its own. Use color='joint', which fits the channels together, or a "
            "mask that keeps some pixels of every channel."
        )
    if color == "luma" and count == 3 and missing.any(axis=-1).all():
        raise InvalidInputError(
            "with color='luma' a pixel missing in any channel is refitted in all "
            "three, and every pixel is missing in at least one channel. Use "
            "color='channels' or color='joint'."
        )


def check_matrix_and_mask(Y, mask):
    """Return ``(Y, missing)`` as a float array and a bool array of one shape.

    With ``mask=None`` the NaN entries of ``Y`` are missing. The masked
    entries of a NumPy masked array are missing as well, with or without
    ``mask``. Observed entries must be finite. At least one entry must be
    observed.
    """
    # np.asarray drops the mask of a masked array, which would turn its
    # masked entries into observed values.
    masked = None
    if isinstance(Y, np.ma.MaskedArray):
        masked = np.ma.getmaskarray(Y)
        Y = np.ma.getdata(Y)
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

    if masked is not None:
        missing = missing | masked
    _check_observed_finite(Y, missing, "Y has", "entries")
    if missing.all():
        raise InvalidInputError("every entry is missing, so there is nothing to fit.")
    return Y, missing


def _check_observed_finite(values, missing, subject, noun):
    """Raise InvalidInputError with the count of NaN or infinite observed values."""
    bad = ~missing & ~np.isfinite(values)
    if bad.any():
        raise InvalidInputError(
            f"{subject} {int(bad.sum())} observed {noun} that are NaN or infinite. "
            "Mark them as missing in the mask or replace them."
        )


def check_solvable(missing, rank, rho, lam):
    """Raise SingularSystemError if rho = lam = 0 leaves a half-step singular.

    Without the ridge and smoothing terms, the normal equations of a row (or
    column) have only the Gram matrix of its observed entries, which is
    singular when the line has fewer than ``rank`` observed entries.

    NOTE: with rho = 0 and lam > 0 such lines pass this check, but the system
    can be so ill-conditioned that the estimate at missing entries is far
    outside the data (1e47 at rank 20 on a 20 x 20 matrix, 30 % missing).
    """
    if rho > 0 or lam > 0:
        return

    observed = ~missing
    short_rows = np.flatnonzero(observed.sum(axis=1) < rank)
    short_columns = np.flatnonzero(observed.sum(axis=0) < rank)
    if short_rows.size == 0 and short_columns.size == 0:
        return
    raise SingularSystemError(
        f"with rho = 0 and lam = 0 the normal equations are singular, because "
        f"{_describe_lines(short_rows, 'row')} and "
        f"{_describe_lines(short_columns, 'column')} have fewer than rank = {rank} "
        "observed entries. Set rho > 0 or lam > 0, or lower the rank."
    )


def _describe_lines(indices, noun, max_listed=5):
    """Return for example "2 rows (0, 7)", listing at most ``max_listed`` indices."""
    count = f"{indices.size} {noun}{'' if indices.size == 1 else 's'}"
    if indices.size == 0:
        return count
    listed = ", ".join(str(i) for i in indices[:max_listed])
    more = ", ..." if indices.size > max_listed else ""
    return f"{count} ({listed}{more})"
