"""Restoring the missing pixels of gray and color images."""

import logging
import time

import numpy as np

from ._validation import check_channel_axis, check_choice, check_image_values
from .errors import InvalidInputError
from .model import SmoothMF

__all__ = ["inpaint", "image_to_float", "DEFAULT_PARAMS"]

log = logging.getLogger(__name__)

# Model settings used by inpaint when the caller gives none. The rank is
# lowered to min(height, width) for small images.
DEFAULT_PARAMS = {"rank": 50, "rho": 0.1, "lam": 10.0, "order": 1, "max_iter": 100}


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


def _model_params(params, shape):
    merged = {**DEFAULT_PARAMS, **params}
    if "rank" not in params:
        merged["rank"] = min(merged["rank"], shape[0], shape[1])
    return merged


def _fit_channels(channels, mask, params, color, verbose):
    """Return the low-rank estimate of every channel and the fitted models.

    Channels are fitted alone, or side by side sharing the row factor ``W``.
    """
    height, width, count = channels.shape
    if color == "joint" and count > 1:
        Y = channels.transpose(0, 2, 1).reshape(height, count * width)
        missing = mask.transpose(0, 2, 1).reshape(height, count * width)
        model = SmoothMF(**params, verbose=verbose)
        model.fit(Y, missing, column_segments=[width] * count)
        estimate = model.reconstruct().reshape(height, count, width).transpose(0, 2, 1)
        return estimate, [model]

    estimate = np.empty_like(channels)
    models = []
    for c in range(count):
        model = SmoothMF(**params, verbose=verbose).fit(channels[..., c], mask[..., c])
        estimate[..., c] = model.reconstruct()
        models.append(model)
    return estimate, models


def inpaint(
    image,
    mask,
    *,
    channel_axis=None,
    keep_observed=True,
    color="channels",
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
        Axis of ``image`` that holds the color channels; None for gray.
    keep_observed : bool, default=True
        Return the observed pixels unchanged. If False, every pixel comes
        from the low-rank estimate.
    color : {"channels", "joint"}, default="channels"
        ``"channels"`` fits each channel on its own; ``"joint"`` fits one
        model to the channels placed side by side, sharing ``W``, with no
        smoothing across a channel border.
    verbose : bool, default=False
        Show a progress bar per fit on stderr.
    return_info : bool, default=False
        Also return a dict with ``iterations``, ``seconds`` and ``models``.
    **model_params
        Passed to :class:`~mfinpaint.SmoothMF` (``rank``, ``rho``, ``lam``,
        ``order``, ``solver``, ``max_iter``, ``tol``, ``random_state``...).
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
    check_choice("color", color, ("channels", "joint"))
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

    start = time.perf_counter()
    if not mask.any():
        log.warning("the mask marks no pixel as missing; the image is returned as it is")
        restored, models = channels.copy(), []
    else:
        params = _model_params(model_params, channels.shape)
        estimate, models = _fit_channels(channels, mask, params, color, verbose)
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
    }
    return restored, info
