"""Automatic choice of ``order``, ``lam``, ``rho`` and ``rank`` by held-out error.

A random part of the observed entries is hidden, models are fitted on the
rest and scored by the relative error on the hidden part. The search is
coarse to fine on a log scale: smoothing order and ``lam`` at a low rank,
then ``lam`` and ``rho`` refined around the best value, then the rank raised
while the held-out error keeps falling. Every fit starts from the factors of
the best fit so far (or from a truncated SVD of a smoothed fill), runs a few
exact ALS iterations and stops early once the held-out error stops falling.
"""

import logging
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ._validation import check_float, check_int, check_matrix_and_mask
from .errors import ConvergenceWarning, InvalidInputError, InvalidParameterError
from .model import SmoothMF, _make_generator

__all__ = ["tune", "TuningResult", "smoothed_fill", "svd_factors", "initial_factors"]

log = logging.getLogger(__name__)

# Coarse grid of the smoothing weight, refined later by a factor sqrt(10).
COARSE_LAMS = (0.3, 3.0, 30.0)
# Ridge weight of the coarse stage and its neighbours tried afterwards.
START_RHO = 0.01
RHO_STEPS = (0.1, 10.0)
# The held-out error must fall by this relative amount to count as better,
# within one fit and between settings (so ties keep the setting tried
# first), and by RANK_GAIN to be worth the cost of a doubled rank.
MIN_GAIN = 0.002
RANK_GAIN = 0.01


@dataclass
class TuningResult:
    """Outcome of :func:`tune`.

    Attributes
    ----------
    params : dict
        Chosen ``rank``, ``lam``, ``rho`` and ``order``.
    holdout_rse : float
        Relative error ``||y - y_hat|| / ||y||`` of the chosen setting on the
        held-out entries.
    trials : list of dict
        Every setting tried, in order, with its ``holdout_rse``,
        ``iterations`` and ``seconds``.
    seconds : float
        Wall time of the search.
    factors : tuple of ndarray
        Factors ``(W, X)`` of the chosen setting fitted without the held-out
        entries, a starting point for the final fit on every entry.
    heldout : tuple of ndarray
        Row and column indices ``(rows, cols)`` of the held-out entries.
    """

    params: dict
    holdout_rse: float
    trials: list = field(default_factory=list)
    seconds: float = 0.0
    factors: tuple = field(default=None, repr=False)
    heldout: tuple = field(default=None, repr=False)


def smoothed_fill(Y, observed, sigma):
    """Fill unobserved entries with a Gaussian-weighted mean of observed ones.

    This is normalized convolution: ``g * (Y o P) / g * P`` with ``P`` the
    observed indicator and ``g`` a Gaussian of width ``sigma`` pixels.
    Observed entries are returned unchanged.
    """
    values = ndimage.gaussian_filter(np.where(observed, Y, 0.0), sigma, mode="nearest")
    weights = ndimage.gaussian_filter(observed.astype(np.float64), sigma, mode="nearest")
    mean = float(Y[observed].mean())
    estimate = np.divide(values, weights, out=np.full_like(values, mean), where=weights > 1e-8)
    return np.where(observed, Y, estimate)


def svd_factors(Y, rank):
    """Return ``(W, X)`` of the best rank-``rank`` approximation ``W.T @ X`` of Y.

    The singular values are split evenly, ``W = sqrt(S) U.T`` and
    ``X = sqrt(S) V.T``, so both factors have the same scale.
    """
    U, S, Vt = np.linalg.svd(Y, full_matrices=False)
    root = np.sqrt(S[:rank])
    return (U[:, :rank] * root).T, root[:, None] * Vt[:rank]


def initial_factors(Y, missing, rank):
    """Return starting factors ``(W, X)`` from the SVD of a smoothed fill of Y.

    The Gaussian width grows as the observed fraction falls, about half the
    mean spacing of observed entries (1.6 pixels at 10 % observed).
    Starting here, exact ALS needs a few iterations where random factors
    need ten or more.
    """
    observed = ~missing
    sigma = 0.5 / np.sqrt(max(observed.mean(), 1e-6))
    return svd_factors(smoothed_fill(Y, observed, sigma), rank)


def _pad_factors(factors, rank, rng):
    """Return factors cut or extended to ``rank`` rows; new rows are small noise."""
    W, X = factors
    if W.shape[0] >= rank:
        return W[:rank], X[:rank]

    extra = rank - W.shape[0]
    W_new = 1e-3 * rng.standard_normal((extra, W.shape[1]))
    X_new = 1e-3 * rng.standard_normal((extra, X.shape[1]))
    return np.vstack([W, W_new]), np.vstack([X, X_new])


def _split_holdout(missing, fraction, rng):
    """Return the training mask and the (rows, cols) of the held-out entries."""
    rows, cols = np.nonzero(~missing)
    if len(rows) < 2:
        raise InvalidInputError(
            f"tuning needs at least 2 observed entries, one to fit and one to "
            f"score on, but there are {len(rows)}. Choose rank, lam, rho and order "
            "yourself (auto=False, or no --auto)."
        )
    # At least one entry is held out and at least one is kept, so that small
    # images can be tuned too.
    count = min(max(int(round(fraction * len(rows))), 1), len(rows) - 1)
    pick = rng.choice(len(rows), size=count, replace=False)
    pick.sort()
    train_missing = missing.copy()
    train_missing[rows[pick], cols[pick]] = True
    return train_missing, (rows[pick], cols[pick])


class _Search:
    """Fits on the training entries and scores on the held-out entries."""

    def __init__(self, Y, train_missing, heldout, max_iter, segments):
        self.Y = Y
        self.train_missing = train_missing
        self.rows, self.cols = heldout
        self.truth = Y[self.rows, self.cols]
        self.norm = float(np.linalg.norm(self.truth))
        self.max_iter = max_iter
        self.segments = segments
        self.trials = []
        self.best = None

    def holdout_rse(self, W, X):
        predicted = np.einsum("ri,ri->i", W[:, self.rows], X[:, self.cols])
        return float(np.linalg.norm(self.truth - predicted)) / self.norm

    def _early_stop(self, record):
        """Return a fit callback that stops when the held-out error rises."""

        def callback(progress):
            error = self.holdout_rse(progress.W, progress.X)
            improved = error < record["rse"] * (1 - MIN_GAIN)
            if error < record["rse"]:
                record.update(rse=error, W=progress.W, X=progress.X)
            return not improved

        return callback

    def try_params(self, params, init):
        """Fit one setting from ``init`` and return its held-out error."""
        key = (params["rank"], params["lam"], params["rho"], params["order"])
        for trial in self.trials:
            if trial["key"] == key:
                return trial["holdout_rse"]

        start = time.perf_counter()
        model = SmoothMF(**params, max_iter=self.max_iter, tol=1e-4)
        record = {"rse": np.inf, "W": None, "X": None}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(
                self.Y, self.train_missing, init=init,
                callback=self._early_stop(record), column_segments=self.segments,
            )
        seconds = time.perf_counter() - start

        trial = {**params, "holdout_rse": record["rse"], "iterations": model.n_iter_,
                 "seconds": round(seconds, 4), "key": key}
        self.trials.append(trial)
        log.debug("tried %s: held-out RSE %.5f in %.2f s", params, record["rse"], seconds)
        if self.best is None or record["rse"] < self.best["holdout_rse"] * (1 - MIN_GAIN):
            self.best = {**trial, "factors": (record["W"], record["X"])}
        return record["rse"]

    def best_params(self):
        return {name: self.best[name] for name in ("rank", "lam", "rho", "order")}


def tune(
    Y,
    mask=None,
    *,
    holdout=0.08,
    orders=(2, 1),
    start_rank=16,
    max_rank=64,
    max_iter=6,
    column_segments=None,
    random_state=0,
):
    """Choose ``order``, ``lam``, ``rho`` and ``rank`` of a SmoothMF by held-out error.

    A fraction ``holdout`` of the observed entries is hidden. Then, with
    every fit scored by its relative error on the hidden entries:

    1. ``order`` and ``lam`` on the grid ``COARSE_LAMS`` at ``start_rank``
       with ``rho = START_RHO``;
    2. ``lam`` refined by a factor ``sqrt(10)`` either way, then ``rho``
       tried 10 times smaller and larger;
    3. the rank doubled while the error falls by more than ``RANK_GAIN``
       (relative), up to ``max_rank``.

    Parameters
    ----------
    Y : array_like of shape (M, N)
        Data matrix; entries marked missing are ignored and may be NaN.
    mask : array_like of bool, shape (M, N), optional
        True where an entry is missing. By default the NaN entries.
    holdout : float, default=0.08
        Fraction of the observed entries hidden for scoring, in (0, 0.5].
    orders : sequence of {1, 2}, default=(2, 1)
        Smoothing orders to compare; on a tie the first is kept.
    start_rank, max_rank : int, default=16 and 64
        First and largest rank tried, both capped at ``min(M, N)``.
    max_iter : int, default=6
        Maximum exact ALS iterations per setting; a fit also stops as soon
        as its held-out error stops falling.
    column_segments : sequence of int, optional
        Column blocks smoothed independently, as in :meth:`SmoothMF.fit`.
    random_state : int or numpy Generator, default=0
        Seed of the held-out split and of new factor rows. The same seed
        and data give the same result.

    Returns
    -------
    result : TuningResult

    Examples
    --------
    >>> import numpy as np
    >>> from mfinpaint import random_mask
    >>> from mfinpaint.tuning import tune
    >>> t = np.linspace(0, 3, 40)
    >>> Y = np.sin(t)[:, None] * np.cos(t)[None, :]
    >>> result = tune(Y, random_mask(Y.shape, 0.5, seed=0), max_rank=8)
    >>> sorted(result.params)
    ['lam', 'order', 'rank', 'rho']
    """
    Y, missing = check_matrix_and_mask(Y, mask)
    Y = np.asarray(Y, dtype=np.float64)
    holdout = check_float("holdout", holdout, 0.0, 0.5)
    if holdout == 0.0:
        raise InvalidParameterError("holdout must be above 0, got 0.0.")
    smallest = min(Y.shape)
    start_rank = min(check_int("start_rank", start_rank, 1), smallest)
    max_rank = max(min(check_int("max_rank", max_rank, 1), smallest), start_rank)
    max_iter = check_int("max_iter", max_iter, 1)
    orders = list(orders)
    if not orders:
        raise InvalidParameterError("orders must name at least one order, 1 or 2.")
    for order in orders:
        check_int("order", order, 1, 2)
    rng = _make_generator(random_state)
    started = time.perf_counter()

    # NOTE: held-out entries are scattered, so the score rates filling of
    # scattered gaps. For large holes (blocks, thick strokes) it can choose
    # less smoothing than those holes need.
    train_missing, heldout = _split_holdout(missing, holdout, rng)
    search = _Search(Y, train_missing, heldout, max_iter, column_segments)

    # Start every coarse fit from the SVD of a cheap interpolation, so that
    # few iterations are enough.
    start = initial_factors(Y, train_missing, max_rank)
    rank = start_rank
    for order in orders:
        for lam in COARSE_LAMS:
            params = {"rank": rank, "lam": lam, "rho": START_RHO, "order": order}
            search.try_params(params, _pad_factors(start, rank, rng))

    _refine(search, "lam", (10**-0.5, 10**0.5))
    _refine(search, "rho", RHO_STEPS)
    _raise_rank(search, max_rank, rng)

    best = search.best
    trials = [{k: v for k, v in trial.items() if k != "key"} for trial in search.trials]
    result = TuningResult(
        params=search.best_params(), holdout_rse=best["holdout_rse"], trials=trials,
        seconds=time.perf_counter() - started, factors=best["factors"], heldout=heldout,
    )
    log.info(
        "tuning chose %s (held-out RSE %.4f) after %d fits in %.2f s",
        result.params, result.holdout_rse, len(trials), result.seconds,
    )
    return result


def _refine(search, name, factors):
    """Try the best setting with ``name`` multiplied by each of ``factors``."""
    base = search.best_params()
    init = search.best["factors"]
    for factor in factors:
        search.try_params({**base, name: base[name] * factor}, init)


def _raise_rank(search, max_rank, rng):
    """Double the rank while the held-out error falls by more than RANK_GAIN."""
    rank = search.best["rank"]
    while rank < max_rank:
        rank = min(2 * rank, max_rank)
        previous = search.best["holdout_rse"]
        params = {**search.best_params(), "rank": rank}
        search.try_params(params, _pad_factors(search.best["factors"], rank, rng))
        if search.best["holdout_rse"] > previous * (1 - RANK_GAIN):
            break
