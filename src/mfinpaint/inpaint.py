"""Restoring the missing pixels of gray and color images."""

import inspect
import logging
import time
import warnings

import numpy as np

from ._validation import (
    check_channel_axis,
    check_channels_observed,
    check_choice,
    check_flag,
    check_image_values,
)
from .colorspace import rgb_to_ycbcr, ycbcr_to_rgb
from .errors import (
    ConvergenceWarning,
    InvalidInputError,
    InvalidParameterError,
    warn_once_per_kind,
)
from .model import SmoothMF
from .tuning import TUNED_PARAMS, check_search_options, initial_factors, tune

__all__ = ["inpaint", "image_to_float", "DEFAULT_PARAMS", "COLOR_MODES"]

log = logging.getLogger(__name__)

# Model settings used by inpaint when the caller gives none. The rank is
# lowered to min(height, width) for small images.
DEFAULT_PARAMS = {
    "rank": 32,
    "rho": 0.01,
    "lam": 3.0,
    "order": 2,
    "lam1": 0.0,
    "max_iter": 8,
    "tol": 1e-4,
}
COLOR_MODES = ("channels", "luma", "joint")


def image_to_float(image):
    """Return ``image`` as float64 in [0, 1] and its bit depth (8, 16 or None).

    ``uint8`` is divided by 255 and ``uint16`` by 65535. Float input is kept
    as it is (NaN is allowed and means missing) and gets bit depth None.
    """
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image / 255.0, 8
    if image.dtype == np.uint16:
        return image / 65535.0, 16
    if image.dtype == bool or image.dtype.kind in "iu":
        raise InvalidInputError(
            f"integer images must be uint8 or uint16, got {image.dtype}. Convert it "
            "or pass floats in [0, 1]."
        )
    if image.dtype.kind != "f":
        raise InvalidInputError(f"image must be numeric, got dtype {image.dtype}.")
    return image.astype(np.float64), None


def _check_mask(mask, channels, channel_axis):
    """Return the mask as bool of shape (H, W) or (H, W, C) in channel-last order."""
    mask = np.asarray(mask)
    if mask.dtype != bool:
        if mask.dtype.kind in "iu" and np.isin(mask, (0, 1)).all():
            mask = mask.astype(bool)
        else:
            raise InvalidInputError(
                f"mask must be bool (True = missing) or 0/1 integers, got dtype "
                f"{mask.dtype}. Convert a mask image with mfinpaint.mask_from_image."
            )
    if channel_axis is not None and mask.ndim == 3:
        mask = np.moveaxis(mask, channel_axis, -1)
    if mask.shape != channels.shape[:2] and mask.shape != channels.shape:
        raise InvalidInputError(
            f"mask shape {mask.shape} differs from image shape {channels.shape[:2]} "
            "(height, width). Use a mask of the same size as the image."
        )
    return np.broadcast_to(mask[..., None] if mask.ndim == 2 else mask, channels.shape)


def channels_last(image, mask, channel_axis):
    """Check an image and its mask and return them with the channels last.

    Returns the image as float of shape (H, W, C), C = 1 for gray, the mask
    as bool of the same shape, and the checked ``channel_axis``.
    """
    values, _ = image_to_float(image)
    channel_axis = check_channel_axis(channel_axis, values.ndim)
    if channel_axis is None:
        if values.ndim != 2:
            raise InvalidInputError(
                f"a gray image must be 2-D, got shape {values.shape}. Pass "
                "channel_axis for a color image."
            )
        channels = values[..., None]
    else:
        if values.ndim != 3:
            raise InvalidInputError(
                f"a color image must be 3-D, got shape {values.shape}."
            )
        channels = np.moveaxis(values, channel_axis, -1)
    mask = _check_mask(mask, channels, channel_axis)
    check_image_values(channels, mask)
    return channels, mask, channel_axis


def _model_params(params, shape):
    merged = {**DEFAULT_PARAMS, **params}
    if "rank" not in params:
        merged["rank"] = min(merged["rank"], shape[0], shape[1])
    return merged


def _fit_matrix(Y, missing, params, verbose, segments=None, init=None, warn=False):
    """Fit one SmoothMF from ``init`` (default: SVD of a smoothed fill).

    A ConvergenceWarning is shown only with ``warn``: the caller chose
    ``max_iter`` and should hear that it was too small.
    """
    if init is None:
        init = initial_factors(Y, missing, params["rank"])
    model = SmoothMF(**params, verbose=verbose)

    # The iteration cap is deliberate: from these starting factors the
    # restored pixels change little after a few iterations, while the
    # objective still falls slowly.
    with warnings.catch_warnings():
        if not warn:
            warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(Y, missing, column_segments=segments, init=init)
    return model.reconstruct(), model


def _side_by_side(channels):
    height, width, count = channels.shape
    return channels.transpose(0, 2, 1).reshape(height, count * width)


def _fit_channels(channels, mask, params, color, verbose, warn=False):
    """Return the low-rank estimate of every channel and the fitted models.

    Channels are fitted alone, side by side sharing the row factor ``W``, or
    (``"luma"``) alone after conversion to YCbCr.
    """
    height, width, count = channels.shape
    if color == "joint" and count > 1:
        estimate, model = _fit_matrix(
            _side_by_side(channels),
            _side_by_side(mask),
            params,
            verbose,
            segments=[width] * count,
            warn=warn,
        )
        estimate = estimate.reshape(height, count, width).transpose(0, 2, 1)
        return estimate, [model]

    luma = color == "luma" and count == 3
    if luma:
        # A pixel missing in any channel is missing in every converted channel.
        mask = np.broadcast_to(mask.any(axis=-1, keepdims=True), mask.shape)
        channels = rgb_to_ycbcr(np.where(mask, 0.0, channels))
    estimate = np.empty_like(channels)
    models = []
    channel_warnings = []
    for c in range(count):
        channel_params = params
        if luma and c > 0:
            # Chroma is smoother than luma, so it gets half the rank. This
            # costs less but scored below color="channels" in docs/quality.md.
            channel_params = {**params, "rank": max(params["rank"] // 2, 1)}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimate[..., c], model = _fit_matrix(
                channels[..., c], mask[..., c], channel_params, verbose, warn=warn
            )
        channel_warnings.append([(w.category, str(w.message)) for w in caught])
        models.append(model)
    # Each kind of warning is shown once for all channels, with a count.
    warn_once_per_kind(channel_warnings, "channel", stacklevel=3)
    if luma:
        estimate = ycbcr_to_rgb(estimate)
    return estimate, models


# Keyword arguments of tune that inpaint does not set itself.
TUNE_OPTIONS = (
    "holdout",
    "holdout_pattern",
    "orders",
    "mix",
    "start_rank",
    "max_rank",
    "max_iter",
    "random_state",
)


def check_auto_options(model_params, auto, tune_options=None):
    """Reject model parameters that ``auto`` chooses itself, and bad ``tune_options``."""
    tuned = sorted(set(model_params) & set(TUNED_PARAMS))
    if auto and tuned:
        raise InvalidParameterError(
            f"auto=True chooses rank, lam, rho, order and lam1 itself, but {tuned} "
            "were given. Drop them or set auto=False."
        )
    _check_tune_options(tune_options, auto)


def _check_tune_options(options, auto):
    if options is None:
        return
    if not auto:
        raise InvalidParameterError(
            "tune_options apply only with auto=True; set auto=True or drop them."
        )
    if not isinstance(options, dict):
        raise InvalidParameterError(
            f"tune_options must be a dict of tune arguments, got {type(options).__name__}."
        )
    unknown = sorted(set(options) - set(TUNE_OPTIONS))
    if unknown:
        raise InvalidParameterError(
            f"unknown tune_options {unknown}; valid names are {list(TUNE_OPTIONS)}."
        )
    # The values are checked here too, so that inpaint_tiled and inpaint_batch
    # reject a bad one before any task starts instead of failing every task.
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(tune).parameters.items()
        if name in TUNE_OPTIONS
    }
    check_search_options(**{**defaults, **options})


def _tune_channels(channels, mask, color, params, options):
    """Run :func:`~mfinpaint.tuning.tune` on the joint matrix, luma or the channel mean.

    A pixel missing in any channel is missing in the luma and the mean. When
    fewer than 2 pixels are observed in every channel, ``"channels"`` tunes
    on the channel with the most observed pixels instead of the mean.
    """
    count = channels.shape[2]
    seed = params.get("random_state")
    options = {
        "random_state": seed if isinstance(seed, (int, np.integer)) else 0,
        **(options or {}),
    }
    if color == "joint" and count > 1:
        Y, missing = _side_by_side(channels), _side_by_side(mask)
        return tune(
            Y, missing, column_segments=[Y.shape[1] // count] * count, **options
        )
    if color == "luma" and count == 3:
        missing = mask.any(axis=-1)
        luma = rgb_to_ycbcr(np.where(missing[..., None], 0.0, channels))[..., 0]
        return tune(luma, missing, **options)
    missing = mask.any(axis=-1)
    if (~missing).sum() < 2:
        best = int(np.argmax((~mask).sum(axis=(0, 1))))
        return tune(channels[..., best], mask[..., best], **options)
    mean = np.where(mask, 0.0, channels).mean(axis=-1)
    return tune(mean, missing, **options)


def inpaint(
    image,
    mask,
    *,
    channel_axis=None,
    keep_observed=True,
    color="channels",
    auto=False,
    tune_options=None,
    verbose=False,
    return_info=False,
    **model_params,
):
    """Restore the missing pixels of an image with smoothing matrix factorization.

    Parameters
    ----------
    image : ndarray of shape (H, W) or with a color axis
        ``uint8``, ``uint16`` or float in [0, 1]. Values at missing pixels
        are ignored and may be NaN.
    mask : ndarray of bool, shape (H, W)
        True where a pixel is missing in every channel. A mask of the same
        shape as a color image marks missing values channel by channel.
    channel_axis : int, optional
        Axis of ``image`` that contains the color channels; None for gray.
    keep_observed : bool, default=True
        Return the observed pixels unchanged. If False, every pixel comes
        from the low-rank estimate.
    color : {"channels", "luma", "joint"}, default="channels"
        ``"channels"`` fits each channel on its own. ``"luma"`` converts RGB
        to YCbCr (luminance and two chroma channels) and fits each of those
        on its own, chroma at half the rank; a pixel missing in any channel
        is then refitted in all three, and images without exactly 3
        channels are fitted per channel. ``"joint"`` fits one model to the
        channels placed side by side, sharing ``W``, with no smoothing
        across a channel border. ``"channels"`` scored best of the three in
        docs/quality.md, ``"luma"`` is the fastest.
    auto : bool, default=False
        Choose ``rank``, ``lam``, ``rho`` and ``order`` with
        :func:`~mfinpaint.tuning.tune` (held-out error on 8 % of the
        observed pixels), then fit every pixel with the chosen values for
        the number of iterations tuning found best (``max_iter`` overrides
        it). ``lam1`` stays 0 unless ``tune_options`` contains
        ``"mix": True``. Do not pass those five parameters with it.
    tune_options : dict, optional
        Keyword arguments for :func:`~mfinpaint.tuning.tune` with ``auto``,
        such as ``max_rank``, ``holdout_pattern`` or ``mix``.
    verbose : bool, default=False
        Show a progress bar per fit on stderr.
    return_info : bool, default=False
        Also return a dict with ``iterations``, ``seconds``, ``models``,
        ``params`` (the model settings used) and ``tuning`` (the
        :class:`~mfinpaint.tuning.TuningResult`, or None without ``auto``).
    **model_params
        Passed to :class:`~mfinpaint.SmoothMF` (``rank``, ``rho``, ``lam``,
        ``order``, ``lam1``, ``solver``, ``max_iter``, ``tol``,
        ``random_state``...).
        Defaults are in ``DEFAULT_PARAMS``.

    Returns
    -------
    restored : ndarray of float64 in [0, 1], same shape as ``image``
    info : dict, only with ``return_info=True``

    Examples
    --------
    >>> import numpy as np
    >>> from mfinpaint import inpaint, random_mask
    >>> from skimage import data
    >>> image = data.camera()[::8, ::8]
    >>> mask = random_mask(image.shape, 0.5, seed=0)
    >>> restored = inpaint(image, mask, rank=10, random_state=0)
    >>> restored.shape, restored.dtype.name
    ((64, 64), 'float64')
    """
    check_choice("color", color, COLOR_MODES)
    for name, flag in [
        ("keep_observed", keep_observed),
        ("auto", auto),
        ("verbose", verbose),
        ("return_info", return_info),
    ]:
        check_flag(name, flag)
    check_auto_options(model_params, auto, tune_options)
    channels, mask, channel_axis = channels_last(image, mask, channel_axis)
    check_channels_observed(mask, color)

    start = time.perf_counter()
    if not mask.any():
        log.warning(
            "the mask marks no pixel as missing; the image is returned as it is"
        )
        restored, models, params, tuned = channels.copy(), [], {}, None
    else:
        params = _model_params(model_params, channels.shape)
        tuned = None
        if auto:
            tuned = _tune_channels(channels, mask, color, params, tune_options)
            params.update(tuned.params)
            params["max_iter"] = model_params.get("max_iter", tuned.iterations)
        estimate, models = _fit_channels(
            channels, mask, params, color, verbose, warn="max_iter" in model_params
        )
        restored = np.clip(estimate, 0.0, 1.0)
        if keep_observed:
            restored = np.where(mask, restored, channels)

    if channel_axis is None:
        restored = restored[..., 0]
    else:
        restored = np.moveaxis(restored, -1, channel_axis)

    if not return_info:
        return restored
    info = {
        "iterations": sum(model.n_iter_ for model in models),
        "seconds": time.perf_counter() - start,
        "models": models,
        "params": {name: params.get(name) for name in TUNED_PARAMS},
        "tuning": tuned,
    }
    return restored, info
