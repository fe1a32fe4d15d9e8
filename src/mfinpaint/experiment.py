"""The published smoothing-MF experiment, on any image.

The published setting: a gray image with 90% of its pixels missing (mask drawn
from NumPy's legacy generator seeded with 1), ranks 5, 10 and 50, ``rho = 0.1``,
``lam = 10`` (smoothing) against ``lam = 1e-10`` (none), 100 iterations of the
conjugate-gradient solver, estimates clipped to [0, 1] and scored by the RSE on
the missing pixels.
"""

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from skimage import data as skdata
from skimage.color import rgb2gray

from ._validation import check_choice, check_float, check_int, check_weight
from .errors import InvalidInputError, InvalidParameterError
from .inpaint import image_to_float
from .metrics import psnr, rse, ssim
from .model import SmoothMF

__all__ = ["ExperimentRun", "default_image", "gray_image", "run_experiment"]

log = logging.getLogger(__name__)

PUBLISHED_RANKS = (5, 10, 50)
PUBLISHED_LAMS = (10.0, 1e-10)


@dataclass
class ExperimentRun:
    """One fit of the experiment and its scores."""

    rank: int
    lam: float
    solver: str
    rse: float
    psnr: float
    ssim: float
    seconds: float
    iterations: int
    restored: np.ndarray = field(repr=False)
    rse_history: list = field(repr=False)


def default_image():
    """Return the default photograph, scikit-image's astronaut (512 x 512), in gray."""
    return gray_image(skdata.astronaut())


def gray_image(image):
    """Return ``image`` as gray float64 in [0, 1] by ITU-R 709 luminance.

    Color is converted with ``0.2125 R + 0.7154 G + 0.0721 B`` (what
    scikit-image's ``rgb2gray`` does); an alpha channel is dropped.
    """
    values, _ = image_to_float(image)
    if values.ndim == 3 and values.shape[2] in (2, 4):
        values = values[..., :-1]
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[..., 0]
    if values.ndim == 3 and values.shape[2] == 3:
        values = rgb2gray(values)
    if values.ndim != 2:
        raise InvalidInputError(
            f"cannot convert an image of shape {values.shape} to gray."
        )
    return values


def _check_settings(ranks, lams, rho, missing_rate, seed, max_iter, solver):
    if not ranks or not lams:
        raise InvalidParameterError("ranks and lams must each name at least one value.")
    for rank in ranks:
        check_int("rank", rank, 1)
    for lam in lams:
        check_weight("lam", lam)
    check_weight("rho", rho)
    check_float("missing_rate", missing_rate, 0.0, 1.0, open_max=True)
    check_int("seed", seed, 0, 2**32 - 1)
    check_int("max_iter", max_iter, 1)
    check_choice("solver", solver, ("cg", "exact"))


def run_experiment(
    image=None,
    *,
    ranks=PUBLISHED_RANKS,
    lams=PUBLISHED_LAMS,
    rho=0.1,
    missing_rate=0.9,
    seed=1,
    max_iter=100,
    solver="cg",
    verbose=False,
):
    """Run the published experiment and return the mask and one run per setting.

    For every run a ``numpy.random.RandomState(seed)`` draws the mask (one
    uniform number per pixel, missing when below ``missing_rate``) and then,
    continuing the same stream, the initial ``W`` and ``X``, as the published
    code did with NumPy's global generator.

    Parameters
    ----------
    image : ndarray, optional
        Gray or color image; converted to gray. Default: :func:`default_image`.
    ranks, lams : sequence
        Ranks and smoothing weights; every pair is one run.
    rho, missing_rate, seed, max_iter, solver
        As in :class:`~mfinpaint.SmoothMF` and :func:`~mfinpaint.random_mask`.
    verbose : bool
        Show a progress bar per fit.

    Returns
    -------
    truth : ndarray, the gray image
    mask : ndarray of bool, True at the missing pixels
    runs : list of ExperimentRun, ranks varying fastest within each ``lam``
    """
    _check_settings(ranks, lams, rho, missing_rate, seed, max_iter, solver)
    truth = default_image() if image is None else gray_image(image)
    if min(truth.shape) < 3:
        raise InvalidInputError(
            f"the experiment scores each run by SSIM, which needs at least 3 x 3 "
            f"pixels, but the image is {truth.shape[1]} x {truth.shape[0]}."
        )
    for rank in ranks:
        check_int("rank", rank, 1, min(truth.shape))
    _check_mask(
        np.random.RandomState(seed).rand(*truth.shape) < missing_rate, missing_rate
    )

    runs = []
    for lam in lams:
        for rank in ranks:
            stream = np.random.RandomState(seed)
            mask = stream.rand(*truth.shape) < missing_rate
            runs.append(
                _run_one(truth, mask, stream, rank, lam, rho, max_iter, solver, verbose)
            )
    return truth, mask, runs


def _check_mask(mask, missing_rate):
    """Raise InvalidParameterError unless the mask hides some pixels and keeps some."""
    if not mask.any():
        raise InvalidParameterError(
            f"missing_rate={missing_rate} hides no pixel, so there is nothing to "
            "restore or score. Use a rate above 0, such as the published 0.9."
        )
    if mask.all():
        raise InvalidParameterError(
            f"missing_rate={missing_rate} hides every pixel of this image, so "
            "there is nothing to fit. Use a lower rate."
        )


def _run_one(truth, mask, stream, rank, lam, rho, max_iter, solver, verbose):
    history = []

    def record(progress):
        estimate = np.clip(progress.W.T @ progress.X, 0.0, 1.0)
        history.append(rse(truth, estimate, mask))

    model = SmoothMF(
        rank=rank,
        rho=rho,
        lam=lam,
        solver=solver,
        max_iter=max_iter,
        random_state=stream,
        verbose=verbose,
    )
    start = time.perf_counter()
    model.fit(truth, mask, callback=record)
    seconds = time.perf_counter() - start

    estimate = np.clip(model.reconstruct(), 0.0, 1.0)
    restored = np.where(mask, estimate, truth)
    run = ExperimentRun(
        rank=rank,
        lam=lam,
        solver=solver,
        rse=rse(truth, estimate, mask),
        psnr=psnr(truth, restored),
        ssim=ssim(truth, restored),
        seconds=seconds,
        iterations=model.n_iter_,
        restored=restored,
        rse_history=history,
    )
    log.info("rank %d, lam %g: RSE %.4f in %.2f s", rank, lam, run.rse, seconds)
    return run
