"""Automatic choice of ``order``, ``lam``, ``lam1``, ``rho`` and ``rank``.

A part of the observed entries is hidden, in holes shaped like the missing
ones when those are clustered. Models are fitted on the rest and ranked by
the relative error on the hidden part. The search is coarse to fine on a
log scale: smoothing order and ``lam`` at a low rank, an added first-order
weight ``lam1`` for second-order smoothing, then ``rho``, the number of
iterations, and the rank raised while the held-out error keeps falling.
Every fit starts from a truncated SVD of a smoothed fill, which
is close enough that one exact ALS iteration ranks the settings.
"""

import logging
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ._validation import (
    check_choice,
    check_flag,
    check_float,
    check_int,
    check_matrix_and_mask,
)
from .errors import (
    ConvergenceWarning,
    InvalidInputError,
    InvalidParameterError,
    ScaleWarning,
)
from .model import (
    SmoothMF,
    _make_generator,
    _truncated_svd_factors,
    fill_width,
    smoothed_fill,
)

__all__ = [
    "tune",
    "TuningResult",
    "smoothed_fill",
    "svd_factors",
    "initial_factors",
    "mask_clustering",
    "default_max_rank",
    "TUNED_PARAMS",
]

log = logging.getLogger(__name__)

# Smoothing weights tried first, per order; when the best is at an end, one
# more value a factor LAM_STEP beyond it is tried. Second-order differences
# are smaller on smooth images, so they need a larger weight.
COARSE_LAMS = {1: (0.3, 1.0), 2: (1.0, 3.0)}
LAM_STEP = 10**0.5
# First-order weights tried with the best second-order setting, as fractions
# of its lam. When the largest is best, one more LAM_STEP beyond it is tried.
MIX_FRACTIONS = (0.1, 0.3)
# The model parameters that tune chooses.
TUNED_PARAMS = ("rank", "lam", "rho", "order", "lam1")
# Ridge weight of the coarse stage and its neighbours tried afterwards.
START_RHO = 0.01
RHO_STEPS = (0.1, 10.0)
# The held-out error must fall by this relative amount to count as better,
# within one fit and between settings (so ties keep the setting tried
# first), and by RANK_GAIN to be worth the cost of a doubled rank.
MIN_GAIN = 0.002
RANK_GAIN = 0.01
HOLDOUT_PATTERNS = ("auto", "mask", "random")
# holdout_pattern="auto" holds out mask-shaped holes when missing entries
# have this many times more missing neighbours than independent ones would.
# NOTE: chosen between 1.0 (random masks) and 3.6 to 12 (text, scratches,
# blocks, rows) in docs/quality.md; masks in between were not measured.
CLUSTERING_LIMIT = 1.5
# Bounds of the default largest rank, see default_max_rank.
SMALL_RANK_LIMIT = 32
LARGE_RANK_LIMIT = 64


@dataclass
class TuningResult:
    """Outcome of :func:`tune`.

    Attributes
    ----------
    params : dict
        Chosen ``rank``, ``lam``, ``rho``, ``order`` and ``lam1`` (0.0 when
        the added first-order term did not help).
    holdout_rse : float
        Relative error ``||y - y_hat|| / ||y||`` of the chosen setting on the
        held-out entries, or the absolute error ``||y - y_hat||`` when every
        held-out value is zero.
    iterations : int
        Exact ALS iterations, from the smoothed-fill start, after which the
        chosen setting had its lowest held-out error.
    trials : list of dict
        Every setting tried, in order, with its ``holdout_rse``,
        ``max_iter``, ``iterations`` (at the lowest error) and ``seconds``.
    seconds : float
        Wall time of the search.
    factors : tuple of ndarray
        Factors ``(W, X)`` of the chosen setting fitted without the held-out
        entries, after ``iterations`` iterations.
    heldout : tuple of ndarray
        Row and column indices ``(rows, cols)`` of the held-out entries.
    """

    params: dict
    holdout_rse: float
    iterations: int = 1
    trials: list = field(default_factory=list)
    seconds: float = 0.0
    factors: tuple = field(default=None, repr=False)
    heldout: tuple = field(default=None, repr=False)


# Matrices with more rows and columns than this start from a randomized SVD.
EXACT_SVD_LIMIT = 1024


def svd_factors(Y, rank):
    """Return ``(W, X)`` of the best rank-``rank`` approximation ``W.T @ X`` of Y.

    The singular values are split evenly, ``W = sqrt(S) U.T`` and
    ``X = sqrt(S) V.T``, so both factors have the same scale. Above
    ``EXACT_SVD_LIMIT`` rows and columns a randomized truncated SVD with a
    fixed seed takes the place of the full one, whose cost grows as
    ``M N min(M, N)`` (25 s at 4096 x 4096 on 2 cores, against 1 s).
    """
    if min(Y.shape) > EXACT_SVD_LIMIT:
        return _truncated_svd_factors(Y, rank, np.random.default_rng(0))
    U, S, Vt = np.linalg.svd(Y, full_matrices=False)
    root = np.sqrt(S[:rank])
    return (U[:, :rank] * root).T, root[:, None] * Vt[:rank]


def initial_factors(Y, missing, rank):
    """Return starting factors ``(W, X)`` from the SVD of a smoothed fill of Y.

    The fill width comes from :func:`~mfinpaint.model.fill_width`. Starting
    here, exact ALS needs a few iterations where random factors need ten or
    more.
    """
    observed = ~missing
    return svd_factors(smoothed_fill(Y, observed, fill_width(observed)), rank)


def mask_clustering(missing):
    """Return how clustered the missing entries are: 1 for independent ones.

    This is the mean number of missing 4-neighbours of a missing entry,
    divided by ``4 p`` with ``p`` the missing fraction, its expected value
    when every entry is missing independently. Strokes, blocks and rows
    score 3 or more.
    """
    missing = np.asarray(missing)
    if missing.ndim != 2 or not (missing.dtype == bool or missing.dtype.kind in "iu"):
        raise InvalidInputError(
            f"mask must be a 2-D bool or integer array (nonzero = missing), got "
            f"dtype {missing.dtype} and shape {missing.shape}."
        )
    missing = missing.astype(bool)
    if not missing.any():
        return 0.0
    padded = np.pad(missing, 1).astype(np.int8)
    neighbours = (
        padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
    )
    return float(neighbours[missing].mean()) / (4 * float(missing.mean()))


def default_max_rank(missing):
    """Return the largest rank :func:`tune` tries by default for this mask.

    This is the mean number of observed entries per row or per column,
    whichever is smaller, clipped to [32, 64]. The upper limit bounds the
    cost of one exact ALS iteration, which grows as ``rank**3``.
    """
    observed = ~np.asarray(missing)
    per_line = min(observed.sum(axis=1).mean(), observed.sum(axis=0).mean())
    return int(np.clip(round(per_line), SMALL_RANK_LIMIT, LARGE_RANK_LIMIT))


def _pad_factors(factors, rank, rng):
    """Return factors cut or extended to ``rank`` rows; new rows are small noise."""
    W, X = factors
    if W.shape[0] >= rank:
        return W[:rank], X[:rank]

    extra = rank - W.shape[0]
    W_new = 1e-3 * rng.standard_normal((extra, W.shape[1]))
    X_new = 1e-3 * rng.standard_normal((extra, X.shape[1]))
    return np.vstack([W, W_new]), np.vstack([X, X_new])


def _holdout_order(missing, pattern, rng):
    """Return the flat indices of the observed entries in the order to hold out.

    With ``pattern="mask"`` the mask is shifted by a random offset (wrapping
    around) and laid over the observed entries. The entries it covers come
    first, whole 4-connected pieces in random order and each piece in row-major
    order, so that the held-out entries form holes shaped like the missing
    ones: scattered pixels, strokes, blocks or rows. The other observed
    entries follow in random order. With ``pattern="random"`` every observed
    entry is in random order.
    """
    observed = ~missing
    indices = np.flatnonzero(observed)
    tiebreak = rng.random(len(indices))
    if pattern == "random":
        return indices[np.argsort(tiebreak, kind="stable")]

    shift = (int(rng.integers(missing.shape[0])), int(rng.integers(missing.shape[1])))
    covered = np.roll(missing, shift, axis=(0, 1)) & observed
    labels, count = ndimage.label(covered)
    # Piece 0 (not covered) goes last; the other pieces get a random rank.
    piece_rank = np.concatenate([[count], rng.permutation(count)])
    piece = piece_rank[labels.ravel()[indices]]
    # Within a covered piece, row-major order keeps a partly used piece in one
    # part instead of scattered.
    within = np.where(piece < count, indices, tiebreak)
    return indices[np.lexsort((within, piece))]


def _split_holdout(missing, fraction, pattern, rng):
    """Return the training mask and the (rows, cols) of the held-out entries."""
    observed_count = int((~missing).sum())
    if observed_count < 2:
        raise InvalidInputError(
            f"tuning needs at least 2 observed entries, one to fit and one to "
            f"score on, but there are {observed_count}. Choose rank, lam, rho and "
            "order yourself (auto=False, or no --auto)."
        )
    # At least one entry is held out and at least one is kept, so that small
    # images can be tuned too.
    count = min(max(int(round(fraction * observed_count)), 1), observed_count - 1)
    picked = np.sort(_holdout_order(missing, pattern, rng)[:count])
    rows, cols = np.unravel_index(picked, missing.shape)
    train_missing = missing.copy()
    train_missing[rows, cols] = True
    return train_missing, (rows, cols)


class _Search:
    """Fits on the training entries and scores on the held-out entries."""

    def __init__(self, Y, train_missing, heldout, segments):
        self.Y = Y
        self.train_missing = train_missing
        self.rows, self.cols = heldout
        self.truth = Y[self.rows, self.cols]
        # When every held-out value is zero (a black image), the relative
        # error is undefined, so the absolute error norm ranks the settings.
        self.norm = float(np.linalg.norm(self.truth)) or 1.0
        self.segments = segments
        self.trials = []
        self.best = None

    def holdout_rse(self, W, X):
        predicted = np.einsum("ri,ri->i", W[:, self.rows], X[:, self.cols])
        return float(np.linalg.norm(self.truth - predicted)) / self.norm

    def _early_stop(self, record, done):
        """Return a fit callback that stops when the held-out error stops falling."""

        def callback(progress):
            error = self.holdout_rse(progress.W, progress.X)
            improved = error < record["rse"] * (1 - MIN_GAIN)
            if error < record["rse"]:
                record.update(
                    rse=error,
                    W=progress.W.copy(),
                    X=progress.X.copy(),
                    iterations=done + progress.iteration,
                )
            return not improved

        return callback

    def _fit(self, params, init, max_iter, record, done=0):
        model = SmoothMF(**params, max_iter=max_iter, tol=1e-4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            # A trial weight that dwarfs the data only scores badly. The fit
            # with the chosen weights warns if they are out of scale.
            warnings.simplefilter("ignore", ScaleWarning)
            model.fit(
                self.Y,
                self.train_missing,
                init=init,
                callback=self._early_stop(record, done),
                column_segments=self.segments,
            )

    def try_params(self, params, init, max_iter=1):
        """Fit one setting from ``init`` and return its held-out error."""
        key = tuple(params[name] for name in TUNED_PARAMS)
        for trial in self.trials:
            if trial["key"] == key:
                return trial["holdout_rse"]

        start = time.perf_counter()
        record = {"rse": np.inf, "W": None, "X": None, "iterations": 0}
        self._fit(params, init, max_iter, record)
        seconds = time.perf_counter() - start

        trial = {
            **params,
            "holdout_rse": record["rse"],
            "max_iter": max_iter,
            "iterations": record["iterations"],
            "seconds": round(seconds, 4),
            "key": key,
        }
        self.trials.append(trial)
        log.debug(
            "tried %s: held-out RSE %.5f in %.2f s", params, record["rse"], seconds
        )
        if self.best is None or record["rse"] < self.best["holdout_rse"] * (
            1 - MIN_GAIN
        ):
            self.best = {**trial, "factors": (record["W"], record["X"])}
        return record["rse"]

    def extend_best(self, total_iter):
        """Continue the best fit while its held-out error falls.

        Only a fit that was still improving at its last iteration is
        continued, up to ``total_iter`` iterations in all. The best setting
        keeps the factors and iteration count of its lowest held-out error.
        """
        best = self.best
        done = best["iterations"]
        if done < best["max_iter"] or done >= total_iter:
            return

        start = time.perf_counter()
        record = {"rse": best["holdout_rse"], "W": None, "X": None, "iterations": done}
        self._fit(self.best_params(), best["factors"], total_iter - done, record, done)
        seconds = round(time.perf_counter() - start, 4)

        trial = next(trial for trial in self.trials if trial["key"] == best["key"])
        for entry in (best, trial):
            entry.update(
                holdout_rse=record["rse"],
                iterations=record["iterations"],
                max_iter=total_iter,
                seconds=entry["seconds"] + seconds,
            )
        if record["W"] is not None:
            best["factors"] = (record["W"], record["X"])

    def best_params(self):
        return {name: self.best[name] for name in TUNED_PARAMS}


def tune(
    Y,
    mask=None,
    *,
    holdout=0.08,
    holdout_pattern="auto",
    orders=(2, 1),
    mix=False,
    start_rank=16,
    max_rank=None,
    max_iter=4,
    column_segments=None,
    random_state=0,
):
    """Choose ``order``, ``lam``, ``lam1``, ``rho`` and ``rank`` of a SmoothMF by held-out error.

    A fraction ``holdout`` of the observed entries is hidden. Every fit
    starts from the SVD of a smoothed fill of the training entries and is
    scored by its relative error on the hidden entries after each exact ALS
    iteration, keeping the lowest. The search:

    1. for each order, ``lam`` on the grid ``COARSE_LAMS[order]`` at
       ``start_rank`` with ``rho = START_RHO``, plus one step of
       ``LAM_STEP`` beyond the grid when its best value is at an end.
       With ``mix`` and order 2 best, ``lam1`` at the fractions
       ``MIX_FRACTIONS`` of ``lam``. Then ``rho`` 10 times smaller and
       larger. Each fit runs one iteration;
    2. the best fit continued while its error falls, up to ``max_iter``
       iterations in all;
    3. the rank doubled, with ``lam`` (and ``lam1``) kept and divided by ``LAM_STEP``,
       while the error falls by more than ``RANK_GAIN`` (relative), up to
       ``max_rank``. Each fit runs at most as many iterations as step 2
       reached;
    4. step 2 again on the best fit, only if more iterations helped in
       step 2.

    The iteration count at the lowest error is the ``iterations`` of the
    result. The trial fits raise no :class:`~mfinpaint.ScaleWarning`, so a
    fit with the chosen weights is the one that warns.

    Parameters
    ----------
    Y : array_like of shape (M, N)
        Data matrix; entries marked missing are ignored and may be NaN.
    mask : array_like of bool, shape (M, N), optional
        True where an entry is missing. By default the NaN entries.
    holdout : float, default=0.08
        Fraction of the observed entries hidden for scoring, in (0, 0.5].
    holdout_pattern : {"auto", "mask", "random"}, default="auto"
        ``"mask"`` hides the observed entries under a randomly shifted copy
        of the mask, whole connected pieces at a time, so that the hidden
        entries form holes shaped like the missing ones (strokes, blocks,
        rows). ``"random"`` hides entries scattered uniformly at random.
        ``"auto"`` takes ``"mask"`` when the missing entries are clustered
        (see :func:`mask_clustering`) and ``"random"`` otherwise, because
        pieces of a shifted random mask are larger than its single holes.
    orders : sequence of {1, 2}, default=(2, 1)
        Smoothing orders to compare; on a tie the first is kept.
    mix : bool, default=False
        Also try second-order smoothing with an added first-order term
        (``lam1 > 0``). Without it ``lam1`` stays 0. It is off by default
        because on the quality benchmark (``docs/quality.md``) it changed
        the mean PSNR by less than 0.05 dB on every damage kind, for 2 or
        3 more fits.
    start_rank : int, default=16
        First rank tried, capped at ``min(M, N)`` and at a given ``max_rank``.
    max_rank : int, optional
        Largest rank tried, capped at ``min(M, N)``. By default the mean
        number of observed entries per row or column (the smaller),
        clipped to [32, 64]: with few observed entries a higher rank only
        costs time, with many it captures more detail.
    max_iter : int, default=4
        Maximum exact ALS iterations of the chosen setting.
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
    ['lam', 'lam1', 'order', 'rank', 'rho']
    """
    Y, missing = check_matrix_and_mask(Y, mask)
    Y = np.asarray(Y, dtype=np.float64)
    holdout, orders, start_rank, max_rank, max_iter = check_search_options(
        holdout=holdout,
        holdout_pattern=holdout_pattern,
        orders=orders,
        mix=mix,
        start_rank=start_rank,
        max_rank=max_rank,
        max_iter=max_iter,
        random_state=random_state,
    )
    smallest = min(Y.shape)
    start_rank = min(start_rank, smallest)
    if max_rank is None:
        max_rank = max(min(default_max_rank(missing), smallest), start_rank)
    else:
        # A given max_rank bounds every rank tried, start_rank included.
        max_rank = min(max_rank, smallest)
        start_rank = min(start_rank, max_rank)
    rng = _make_generator(random_state)
    started = time.perf_counter()

    if holdout_pattern == "auto":
        clustered = mask_clustering(missing) > CLUSTERING_LIMIT
        holdout_pattern = "mask" if clustered else "random"
    train_missing, heldout = _split_holdout(missing, holdout, holdout_pattern, rng)
    search = _Search(Y, train_missing, heldout, column_segments)

    # One SVD serves every rank: its leading rows are the SVD at a lower rank.
    start = initial_factors(Y, train_missing, max_rank)
    init = _pad_factors(start, start_rank, rng)
    for order in orders:
        _search_lam(search, order, start_rank, init)
    if mix and search.best["order"] == 2:
        _search_mix(search, init)
    _refine_rho(search, start, rng)

    # Whether more iterations help is checked at the low rank, where an
    # iteration is cheap, and again at a higher rank only if they did.
    search.extend_best(max_iter)
    probe_iter = search.best["iterations"]
    _raise_rank(search, start, max_rank, probe_iter, rng)
    if probe_iter > 1:
        search.extend_best(max_iter)

    best = search.best
    trials = [{k: v for k, v in trial.items() if k != "key"} for trial in search.trials]
    result = TuningResult(
        params=search.best_params(),
        holdout_rse=best["holdout_rse"],
        iterations=best["iterations"],
        trials=trials,
        seconds=time.perf_counter() - started,
        factors=best["factors"],
        heldout=heldout,
    )
    log.info(
        "tuning chose %s and %d iterations (held-out RSE %.4f) after %d fits in %.2f s",
        result.params,
        result.iterations,
        result.holdout_rse,
        len(trials),
        result.seconds,
    )
    return result


def check_search_options(
    *,
    holdout,
    holdout_pattern,
    orders,
    mix,
    start_rank,
    max_rank,
    max_iter,
    random_state,
):
    """Check the search options of :func:`tune`, which need no data.

    Returns ``(holdout, orders, start_rank, max_rank, max_iter)`` checked,
    with ``orders`` as a list. The caps that depend on the matrix size are
    applied by :func:`tune`.

    Raises
    ------
    InvalidParameterError
        An option has an invalid type or value.
    """
    holdout = check_float("holdout", holdout, 0.0, 0.5)
    if holdout == 0.0:
        raise InvalidParameterError("holdout must be above 0, got 0.0.")
    check_choice("holdout_pattern", holdout_pattern, HOLDOUT_PATTERNS)
    start_rank = check_int("start_rank", start_rank, 1)
    if max_rank is not None:
        max_rank = check_int("max_rank", max_rank, 1)
    max_iter = check_int("max_iter", max_iter, 1)
    try:
        orders = list(orders)
    except TypeError:
        raise InvalidParameterError(
            f"orders must be a sequence of smoothing orders such as (2, 1), got {orders!r}."
        ) from None
    if not orders:
        raise InvalidParameterError("orders must name at least one order, 1 or 2.")
    for order in orders:
        check_int("order", order, 1, 2)
    check_flag("mix", mix)
    _make_generator(random_state)
    return holdout, orders, start_rank, max_rank, max_iter


def _search_lam(search, order, rank, init):
    """Try ``COARSE_LAMS[order]`` and one step beyond its end that scores best."""
    lams = COARSE_LAMS[order]
    errors = []
    for lam in lams:
        params = {
            "rank": rank,
            "lam": lam,
            "rho": START_RHO,
            "order": order,
            "lam1": 0.0,
        }
        errors.append(search.try_params(params, init))

    best = int(np.argmin(errors))
    if best == 0:
        extra = lams[0] / LAM_STEP
    elif best == len(lams) - 1:
        extra = lams[-1] * LAM_STEP
    else:
        return
    search.try_params({**params, "lam": extra}, init)


def _search_mix(search, init):
    """Try the best setting with ``lam1`` at the fractions ``MIX_FRACTIONS`` of ``lam``."""
    base = search.best_params()
    errors = []
    for fraction in MIX_FRACTIONS:
        params = {**base, "lam1": base["lam"] * fraction}
        errors.append(search.try_params(params, init))
    if int(np.argmin(errors)) == len(errors) - 1:
        params = {**base, "lam1": base["lam"] * MIX_FRACTIONS[-1] * LAM_STEP}
        search.try_params(params, init)


def _refine_rho(search, start, rng):
    """Try the best setting with ``rho`` multiplied by each of ``RHO_STEPS``."""
    base = search.best_params()
    for factor in RHO_STEPS:
        params = {**base, "rho": base["rho"] * factor}
        search.try_params(params, _pad_factors(start, params["rank"], rng))


def _raise_rank(search, start, max_rank, max_iter, rng):
    """Double the rank while the held-out error falls by more than RANK_GAIN.

    A higher rank needs less smoothing, so each new rank also tries ``lam``
    and ``lam1`` divided by ``LAM_STEP``.
    """
    rank = search.best["rank"]
    while rank < max_rank:
        rank = min(2 * rank, max_rank)
        previous = search.best["holdout_rse"]
        base = {**search.best_params(), "rank": rank}
        init = _pad_factors(start, rank, rng)
        for factor in (1.0, 1 / LAM_STEP):
            params = {
                **base,
                "lam": base["lam"] * factor,
                "lam1": base["lam1"] * factor,
            }
            search.try_params(params, init, max_iter)
        if search.best["holdout_rse"] > previous * (1 - RANK_GAIN):
            break
