"""Quality of a restoration against the original image."""

import logging

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from .errors import InvalidInputError

__all__ = ["rse", "psnr", "ssim", "restoration_scores"]

log = logging.getLogger(__name__)


def _check_pair(truth, estimate):
    truth = np.asarray(truth, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    if truth.shape != estimate.shape:
        raise InvalidInputError(
            f"truth shape {truth.shape} differs from estimate shape {estimate.shape}."
        )
    return truth, estimate


def rse(truth, estimate, mask=None):
    """Return the relative squared error ``||y - y_hat|| / ||y||`` on ``mask``.

    Parameters
    ----------
    truth, estimate : ndarray
        Original and restored values, same shape.
    mask : ndarray of bool, optional
        True at the entries to score, usually the missing pixels; a 2-D mask
        of a color image applies to every channel. Default: all entries.

    Examples
    --------
    >>> import numpy as np
    >>> from mfinpaint.metrics import rse
    >>> rse(np.array([3.0, 4.0]), np.array([3.0, 3.0]))
    0.2
    """
    truth, estimate = _check_pair(truth, estimate)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != truth.shape[: mask.ndim]:
            raise InvalidInputError(
                f"mask shape {mask.shape} does not match image shape {truth.shape}."
            )
        truth, estimate = truth[mask], estimate[mask]
    if truth.size == 0:
        raise InvalidInputError("the mask selects no entry, so RSE is undefined.")
    norm = np.linalg.norm(truth)
    if norm == 0:
        raise InvalidInputError(
            "the truth is zero on the scored entries; RSE is undefined."
        )
    return float(np.linalg.norm(truth - estimate) / norm)


def psnr(truth, estimate, data_range=1.0):
    """Return the peak signal-to-noise ratio in dB over the whole image."""
    truth, estimate = _check_pair(truth, estimate)
    return float(peak_signal_noise_ratio(truth, estimate, data_range=data_range))


def ssim(truth, estimate, data_range=1.0):
    """Return the structural similarity over the whole image (color: per channel mean)."""
    truth, estimate = _check_pair(truth, estimate)
    channel_axis = -1 if truth.ndim == 3 else None
    small = min(truth.shape[:2])
    win_size = min(7, small if small % 2 else small - 1)
    if win_size < 3:
        raise InvalidInputError(
            f"SSIM needs an image of at least 3 x 3 pixels, got {truth.shape[:2]}."
        )
    return float(
        structural_similarity(
            truth,
            estimate,
            data_range=data_range,
            channel_axis=channel_axis,
            win_size=win_size,
        )
    )


def restoration_scores(truth, estimate, mask):
    """Return RSE on the ``mask`` entries, PSNR and SSIM, each None when undefined.

    RSE is undefined when ``mask`` has no True entry or the truth is zero on
    it, PSNR when the images are equal and SSIM below 3 x 3 pixels. Each
    undefined score is logged at INFO.
    """
    scores = {"rse": None, "psnr": None, "ssim": None}
    if not np.any(mask):
        log.info("RSE is not computed because no pixel is missing")
    elif not np.any(np.asarray(truth)[np.asarray(mask, dtype=bool)]):
        log.info(
            "RSE is not computed because the reference is zero at every missing pixel"
        )
    else:
        scores["rse"] = rse(truth, estimate, mask)
    if np.array_equal(truth, estimate):
        log.info("PSNR is not computed because the image equals the reference")
    else:
        scores["psnr"] = psnr(truth, estimate)
    try:
        scores["ssim"] = ssim(truth, estimate)
    except InvalidInputError as error:
        log.info("SSIM is not computed: %s", error)
    return scores
