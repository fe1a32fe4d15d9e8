"""Masks of missing pixels: True marks a missing pixel, as in scikit-image."""

import logging

import numpy as np

from ._validation import check_float, check_int
from .errors import InvalidInputError, InvalidParameterError
from .io import DEFAULT_MAX_PIXELS, read_image

__all__ = [
    "random_mask",
    "mask_from_image",
    "mask_from_alpha",
    "read_mask",
    "select_mask",
]

log = logging.getLogger(__name__)


def random_mask(shape, missing_rate, seed=None):
    """Draw a mask with each pixel missing independently with ``missing_rate``.

    One uniform number ``u`` is drawn per pixel in row-major order from
    ``numpy.random.RandomState(seed)`` and the pixel is missing when
    ``u < missing_rate``. With ``seed=1`` this reproduces the mask of the
    published smoothing-MF experiment, which seeded NumPy's global generator
    with 1 and kept a pixel when ``round(u + 0.5 - p) == 1``.

    Parameters
    ----------
    shape : tuple of int
        Shape of the mask, usually ``(height, width)``.
    missing_rate : float
        Probability in [0, 1) that a pixel is missing.
    seed : int, optional
        Seed of the legacy NumPy generator. None draws a fresh seed.

    Returns
    -------
    mask : ndarray of bool

    Examples
    --------
    >>> from mfinpaint import random_mask
    >>> mask = random_mask((512, 512), 0.9, seed=1)
    >>> round(float(mask.mean()), 3)
    0.9
    """
    shape = _check_shape(shape)
    missing_rate = check_float("missing_rate", missing_rate, 0.0, 1.0, open_max=True)
    if seed is not None:
        seed = check_int("seed", seed, 0, 2**32 - 1)
    return np.random.RandomState(seed).rand(*shape) < missing_rate


def _check_shape(shape):
    try:
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"shape must be a tuple of positive ints, got {shape!r}."
        ) from None
    if not shape or min(shape) < 1:
        raise InvalidParameterError(f"shape must have positive sizes, got {shape}.")
    return shape


def mask_from_image(image):
    """Convert a mask image to a bool mask: any nonzero pixel is missing.

    This is the OpenCV and scikit-image convention: white (or any nonzero
    value) marks the pixels to restore, black marks the pixels to keep. For
    a color mask a pixel is missing when any color channel is nonzero. An
    alpha channel (the 2nd of 2 or the 4th of 4) is ignored. The rule is the
    same at every bit depth, so in a 16-bit mask a value of 1 is missing too.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)

    Returns
    -------
    mask : ndarray of bool, shape (H, W)

    Examples
    --------
    >>> import numpy as np
    >>> from mfinpaint import mask_from_image
    >>> mask_from_image(np.array([[0, 1], [65535, 0]], dtype=np.uint16))
    array([[False,  True],
           [ True, False]])
    """
    image = np.asarray(image)
    if image.ndim == 3:
        if image.shape[2] in (2, 4):
            image = image[..., :-1]
        return np.any(image != 0, axis=2)
    if image.ndim != 2:
        raise InvalidInputError(
            f"a mask image must be 2-D or 3-D, got shape {image.shape}."
        )
    return image != 0


def mask_from_alpha(image):
    """Return the mask of fully transparent pixels of an RGBA or gray-alpha image.

    Parameters
    ----------
    image : ndarray of shape (H, W, 2) or (H, W, 4)

    Returns
    -------
    mask : ndarray of bool, shape (H, W)
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (2, 4):
        raise InvalidInputError(
            f"an image with an alpha channel has shape (H, W, 2) or (H, W, 4), "
            f"got {image.shape}. Pass a mask file instead."
        )
    return image[..., -1] == 0


def read_mask(path, shape, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Read a mask image file with :func:`mask_from_image` and check its size.

    ``shape`` is the (height, width) of the image that the mask belongs to.
    InvalidInputError names both sizes when they differ.
    """
    mask = mask_from_image(read_image(path, max_pixels=max_pixels))
    if mask.shape != tuple(shape):
        raise InvalidInputError(
            f"mask {str(path)!r} is {mask.shape[1]} x {mask.shape[0]} pixels but "
            f"the image is {shape[1]} x {shape[0]}; use a mask of the image's size."
        )
    return mask


def select_mask(
    image,
    shape,
    *,
    mask_path=None,
    missing_rate=None,
    seed=None,
    max_pixels=DEFAULT_MAX_PIXELS,
):
    """Return the mask of missing pixels of ``image`` from the first source given.

    The sources, in order: a random mask of ``missing_rate`` drawn with
    ``seed``, the mask file ``mask_path`` (see :func:`read_mask`), and the
    fully transparent pixels of an image with alpha. Returns None when none
    of them marks a pixel, so that the caller can name its own options.
    """
    if missing_rate is not None:
        return random_mask(shape, missing_rate, seed)
    if mask_path is not None:
        return read_mask(mask_path, shape, max_pixels=max_pixels)
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] in (2, 4):
        mask = mask_from_alpha(image)
        if mask.any():
            log.info("using the %d transparent pixels as the mask", int(mask.sum()))
            return mask
    return None
