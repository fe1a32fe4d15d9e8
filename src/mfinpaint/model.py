"""The smoothing matrix factorization estimator."""

import logging
import numbers
import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from tqdm.auto import tqdm

from ._validation import (
    check_callback,
    check_choice,
    check_flag,
    check_float,
    check_int,
    check_matrix_and_mask,
    check_segments,
    check_solvable,
    check_weight,
)
from .difference import penalty_terms, penalty_value
from .errors import (
    ConvergenceWarning,
    InvalidInputError,
    InvalidParameterError,
    ScaleWarning,
    SingularSystemError,
)
from .observed import ObservedLines
from .solvers import cg_half_step, exact_half_step

__all__ = ["SmoothMF", "FitProgress"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitProgress:
    """State passed to a fit callback after each outer iteration.

    ``W`` and ``X`` are read-only views of the current factors, so a callback
    cannot change the fit by writing into them. Copy them to keep or edit.
    """

    iteration: int
    elapsed: float
    objective: float
    W: np.ndarray
    X: np.ndarray


def _make_generator(random_state):
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    if random_state is None or (
        isinstance(random_state, numbers.Integral)
        and not isinstance(random_state, bool)
        and random_state >= 0
    ):
        return np.random.default_rng(random_state)
    raise InvalidParameterError(
        "random_state must be None, a non-negative int, a numpy Generator or "
        f"RandomState, got {random_state!r}."
    )


def _non_finite_error(solver, iteration):
    return SingularSystemError(
        f"the factors became NaN or infinite in iteration {iteration} of the "
        f"{solver!r} solver: the normal equations are singular, Y is badly "
        "scaled, or lam or lam1 is too large for the dtype. Use rho > 0 or "
        "lam > 0, dtype float64 instead of float32, smaller lam and lam1, or "
        "scale Y to values near 1."
    )


def _truncated_svd_factors(A, rank, rng, power_iterations=2, oversampling=10):
    """Return ``(W, X)`` with ``W.T @ X`` near the best rank-``rank`` fit of ``A``.

    A randomized range finder: ``A`` times Gaussian vectors, orthonormalized
    and refined by power iterations, spans nearly the top singular vectors,
    and the SVD of the small projection ``Q.T @ A`` gives them. This costs
    ``O(M N (rank + oversampling))`` in place of a full SVD's
    ``O(M N min(M, N))``. The singular values are split evenly between the
    two factors.
    """
    width = min(rank + oversampling, min(A.shape))
    Q, _ = np.linalg.qr(A @ rng.standard_normal((A.shape[1], width)))
    for _ in range(power_iterations):
        Q, _ = np.linalg.qr(A.T @ Q)
        Q, _ = np.linalg.qr(A @ Q)
    U, S, Vt = np.linalg.svd(Q.T @ A, full_matrices=False)
    root = np.sqrt(S[:rank])
    return (Q @ U[:, :rank] * root).T, root[:, None] * Vt[:rank]


def fill_width(observed):
    """Return the Gaussian width for :func:`smoothed_fill`, in pixels.

    The width is about half the mean spacing of observed entries, so it
    grows as the observed fraction falls (1.6 pixels at 10 % observed).
    """
    return 0.5 / np.sqrt(max(observed.mean(), 1e-6))


def smoothed_fill(Y, observed, sigma, truncate=4.0, floor=1e-8):
    """Fill unobserved entries with a Gaussian-weighted mean of observed ones.

    This is normalized convolution: ``g * (Y o P) / g * P`` with ``P`` the
    observed indicator and ``g`` a Gaussian of width ``sigma`` pixels, cut at
    ``truncate`` widths. Where the weight ``g * P`` is at most ``floor``, the
    mean of the observed entries is used. The result has the dtype of ``Y``,
    and observed entries are returned unchanged.
    """
    values = ndimage.gaussian_filter(
        np.where(observed, Y, 0), sigma, mode="nearest", truncate=truncate
    )
    weights = ndimage.gaussian_filter(
        observed.astype(values.dtype), sigma, mode="nearest", truncate=truncate
    )
    mean = Y[observed].mean(dtype=np.float64)
    estimate = np.divide(
        values, weights, out=np.full_like(values, mean), where=weights > floor
    )
    return np.where(observed, Y, estimate)


def _svd_start(Y, observed, rank, rng):
    """Return starting factors from a truncated SVD of a smoothed fill of ``Y``.

    Missing entries are filled by normalized Gaussian convolution of the
    observed ones, with a width of about half their mean spacing. The fill
    runs in float32 with the kernel cut at 3 widths, which halves its cost
    and only has to be good enough to start from.
    """
    # The float32 cast would turn values above 3.4e38 into inf and values
    # below 1e-45 into 0, so Y is brought to magnitudes below 1 first and the
    # factors get the scale back at the end. A power of two keeps both steps
    # exact.
    _, exponent = np.frexp(np.abs(Y[observed]).max())
    exponent = int(exponent)
    values = np.ldexp(np.where(observed, Y, 0), -exponent).astype(np.float32)
    filled = smoothed_fill(
        values, observed, fill_width(observed), truncate=3.0, floor=1e-6
    )
    W, X = _truncated_svd_factors(filled, rank, rng)
    half = exponent // 2
    return np.ldexp(W, half), np.ldexp(X, exponent - half)


def _read_only(*arrays):
    """Return read-only views of ``arrays``."""
    views = []
    for array in arrays:
        view = array.view()
        view.flags.writeable = False
        views.append(view)
    return views


def _call_callback(callback, progress):
    """Call ``callback(progress)`` and return True if it requests a stop."""
    result = callback(progress)
    if result is None or isinstance(result, (bool, np.bool_)):
        return bool(result)
    raise InvalidParameterError(
        f"callback must return None, True or False, got {result!r}. Return "
        "True to stop fitting."
    )


def _check_dtype_range(largest, dtype):
    """Raise InvalidInputError if the largest observed |value| overflows ``dtype``."""
    limit = float(np.finfo(dtype).max)
    if largest > limit:
        raise InvalidInputError(
            f"Y has observed values up to {largest:g}, beyond the {dtype} "
            f"maximum {limit:g}. Use dtype=numpy.float64 or scale Y to values "
            "near 1."
        )


# A fit warns when a weight exceeds the largest observed |value| this many
# times. NOTE: measured on one photograph at 70 % missing (rank 16, lam 3):
# the error on missing pixels doubles at a ratio of 300, reaches 0.7 of the
# signal at 3000 and 1.0 (all zeros) at 30000.
WEIGHT_SCALE_LIMIT = 1e3


def _warn_weight_scale(largest, weights):
    """Warn when rho or the smoothing weights dwarf the observed values.

    ``largest`` is the largest observed |value| and ``weights`` maps each
    weight's name to its value. The weights are
    absolute, so on data of order 1e-4 the default weights shrink the
    estimate of every missing entry toward 0.
    """
    large = [
        name for name, value in weights.items() if value > WEIGHT_SCALE_LIMIT * largest
    ]
    if largest == 0 or not large:
        return
    described = " and ".join(f"{name} {weights[name]:g}" for name in large)
    verb = "is" if len(large) == 1 else "are"
    warnings.warn(
        f"{described} {verb} more than {WEIGHT_SCALE_LIMIT:g} times the largest "
        f"observed |value| ({largest:.3g}), so the missing entries are pulled "
        f"toward 0. Scale Y to values near 1 or lower {' and '.join(large)}.",
        ScaleWarning,
        stacklevel=3,
    )


def _check_init(init, rank, shape, dtype):
    """Return copies of the starting factors after checking their shapes."""
    try:
        W, X = init
    except (TypeError, ValueError):
        raise InvalidParameterError(
            "init must be a pair (W, X) of arrays; got a value that does not "
            "unpack into two."
        ) from None
    W, X = np.asarray(W), np.asarray(X)
    for name, factor in (("W", W), ("X", X)):
        if not (np.issubdtype(factor.dtype, np.number) and not np.iscomplexobj(factor)):
            raise InvalidParameterError(
                f"init factor {name} must be a real numeric array, got dtype "
                f"{factor.dtype}."
            )
    W = np.array(W, dtype=dtype)
    X = np.array(X, dtype=dtype)
    expected = ((rank, shape[0]), (rank, shape[1]))
    if (W.shape, X.shape) != expected:
        raise InvalidParameterError(
            f"init factors have shapes {W.shape} and {X.shape}, expected "
            f"{expected[0]} and {expected[1]} for rank {rank} and Y of shape {shape}."
        )
    if not (np.isfinite(W).all() and np.isfinite(X).all()):
        raise InvalidParameterError("init factors must be finite.")
    return W, X


class SmoothMF:
    """Low-rank matrix completion ``Y ~ W.T @ X`` with factors smoothed in order.

    The model minimizes

    .. math::

        f(W, X) = \\tfrac12 \\sum_{(i,j) \\in \\Omega} (y_{ij} - w_i^T x_j)^2
        + \\tfrac{\\rho}{2} (\\|W\\|_F^2 + \\|X\\|_F^2)
        + \\tfrac{\\lambda}{2} (\\|\\Psi_M W^T\\|_F^2 + \\|\\Psi_N X^T\\|_F^2)

    where ``Omega`` is the set of observed entries and ``Psi`` takes finite
    differences of the given order, so neighbouring rows of ``Y`` get similar
    columns of ``W`` and neighbouring columns get similar columns of ``X``.
    With ``lam1 > 0`` a first-order term of that weight is added to the
    smoothing term, so a second-order model can also keep factors flat.
    Fitting alternates between exact or conjugate-gradient solves for ``W``
    and for ``X``.

    Parameters
    ----------
    rank : int, default=50
        Number of factors ``R``; at most ``min(M, N)``.
    rho : float, default=0.1
        Ridge weight on both factors.
    lam : float, default=10.0
        Smoothing weight. Near 0 gives plain regularized factorization.
    order : {1, 2}, default=1
        Order of the finite differences in the smoothing term.
    solver : {"exact", "cg"}, default="exact"
        ``"exact"`` solves each half-step's normal equations with a banded
        Cholesky factorization and stops on ``tol``. ``"cg"`` is the
        published solver: 5 warm-started conjugate-gradient steps per
        half-step for exactly ``max_iter`` outer iterations.
    max_iter : int, default=100
        Maximum number of outer iterations (one ``W`` and one ``X`` update).
    tol : float, default=1e-5
        The exact solver stops when the relative decrease of the objective in
        one iteration falls below ``tol``.
    start : {"auto", "random", "svd"}, default="auto"
        Initial factors when :meth:`fit` gets no ``init``. ``"auto"`` is
        ``"svd"`` for the exact solver and ``"random"`` for ``"cg"``, so the
        published solver keeps the published start. ``"random"`` is
        the published start, ``0.01`` times standard normal draws, ``W``
        first and then ``X``. ``"svd"`` takes a truncated SVD of ``Y`` with
        its missing entries filled by a Gaussian-weighted mean of the
        observed ones. From there the exact solver reaches a given error in
        fewer iterations (measured in ``docs/benchmarks.md``).
    random_state : int, numpy Generator or RandomState, default=None
        Source of the random initial factors, or of the random sketch of the
        truncated SVD.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Floating type of the factors and of the work arrays.
    verbose : bool, default=False
        Show a progress bar on stderr with the objective.
    lam1 : float, default=0.0
        Weight of an added first-order smoothing term. With ``order=2`` the
        smoothing term becomes ``lam ||Psi_2 V||^2 + lam1 ||Psi_1 V||^2``.
        With ``order=1`` it adds to ``lam``.

    Attributes
    ----------
    W_ : ndarray of shape (rank, M)
        Row factors; column ``i`` belongs to row ``i`` of ``Y``.
    X_ : ndarray of shape (rank, N)
        Column factors.
    n_iter_ : int
        Number of outer iterations run.
    objective_ : list of float
        Objective ``f(W, X)`` after each outer iteration.

    Examples
    --------
    >>> import numpy as np
    >>> from mfinpaint import SmoothMF
    >>> Y = np.outer(np.linspace(0, 1, 20), np.linspace(1, 2, 30))
    >>> Y[::3, ::2] = np.nan
    >>> model = SmoothMF(rank=2, lam=1.0, rho=1e-3, random_state=0)
    >>> filled = model.fit_transform(Y)
    >>> bool(np.isfinite(filled).all())
    True
    """

    def __init__(
        self,
        rank=50,
        rho=0.1,
        lam=10.0,
        order=1,
        solver="exact",
        max_iter=100,
        tol=1e-5,
        start="auto",
        random_state=None,
        dtype=np.float64,
        verbose=False,
        lam1=0.0,
    ):
        self.rank = rank
        self.rho = rho
        self.lam = lam
        self.order = order
        self.lam1 = lam1
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.start = start
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    def get_params(self, deep=True):
        """Return the constructor parameters as a dict.

        ``deep`` is accepted for scikit-learn compatibility. SmoothMF has no
        nested estimators, so it changes nothing.
        """
        names = ("rank", "rho", "lam", "order", "lam1", "solver", "max_iter", "tol")
        names += ("start", "random_state", "dtype", "verbose")
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params):
        """Set constructor parameters by name and return the estimator."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise InvalidParameterError(
                    f"unknown parameter {name!r}; valid names are {sorted(valid)}."
                )
            setattr(self, name, value)
        return self

    def _check_params(self, shape):
        M, N = shape
        check_int("rank", self.rank, 1, min(M, N))
        check_weight("rho", self.rho)
        check_weight("lam", self.lam)
        check_choice("order", self.order, (1, 2))
        check_weight("lam1", self.lam1)
        check_choice("solver", self.solver, ("exact", "cg"))
        check_int("max_iter", self.max_iter, 1)
        check_float("tol", self.tol)
        check_choice("start", self.start, ("auto", "random", "svd"))
        check_flag("verbose", self.verbose)
        _make_generator(self.random_state)
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.float32, np.float64):
            raise InvalidParameterError(
                f"dtype must be float32 or float64, got {self.dtype!r}."
            )

    def fit(self, Y, mask=None, *, callback=None, column_segments=None, init=None):
        """Fit the factors to the observed entries of ``Y``.

        Parameters
        ----------
        Y : array_like of shape (M, N)
            Data matrix. Entries marked missing are ignored and may be NaN.
        mask : array_like of bool, shape (M, N), optional
            True where an entry is missing. By default the NaN entries of
            ``Y`` are missing. A zero is an ordinary observed value.
        callback : callable, optional
            Called as ``callback(progress)`` with a :class:`FitProgress` after
            each outer iteration. If it returns True, fitting stops.
        column_segments : sequence of int, optional
            Lengths of consecutive column blocks that are smoothed
            independently, for example one block per color channel.
        init : tuple of ndarray (W, X), optional
            Starting factors of shapes (rank, M) and (rank, N), for example
            from a fit with nearby parameters. By default they follow
            ``start``.

        Returns
        -------
        self : SmoothMF
        """
        Y, missing = check_matrix_and_mask(Y, mask)
        self._check_params(Y.shape)
        dtype = np.dtype(self.dtype)
        rank, order = int(self.rank), int(self.order)
        rho, lam, lam1 = float(self.rho), float(self.lam), float(self.lam1)
        check_solvable(missing, rank, rho, lam + lam1)
        terms = penalty_terms(lam, order, lam1)
        check_callback(callback)
        column_segments = check_segments(column_segments, Y.shape[1])

        # Index the observed entries once, by rows for W and by columns for X.
        observed = ~missing
        largest = float(np.abs(Y[observed]).max())
        _check_dtype_range(largest, dtype)
        _warn_weight_scale(largest, {"rho": rho, "lam": lam, "lam1": lam1})
        Y0 = np.where(observed, Y, 0).astype(dtype, copy=False)
        rows = ObservedLines(Y0, observed, rank, dtype)
        columns = ObservedLines(Y0.T, observed.T, rank, dtype)

        start = self.start
        if start == "auto":
            start = "svd" if self.solver == "exact" else "random"
        if init is None and start == "svd":
            rng = _make_generator(self.random_state)
            try:
                W, X = (V.astype(dtype) for V in _svd_start(Y0, observed, rank, rng))
            except np.linalg.LinAlgError:
                raise SingularSystemError(
                    "the SVD start failed because the filled Y contains NaN or infinite "
                    "values: Y is badly scaled. Scale Y to values near 1."
                ) from None
        elif init is None:
            rng = _make_generator(self.random_state)
            W = (0.01 * rng.standard_normal((rank, Y.shape[0]))).astype(dtype)
            X = (0.01 * rng.standard_normal((rank, Y.shape[1]))).astype(dtype)
        else:
            W, X = _check_init(init, rank, Y.shape, dtype)

        def objective(W, X):
            data = 0.5 * columns.residual_sum_of_squares(W, X)
            ridge = 0.5 * rho * (float(np.vdot(W, W)) + float(np.vdot(X, X)))
            smooth = penalty_value(W, terms) + penalty_value(X, terms, column_segments)
            return data + ridge + 0.5 * smooth

        objectives = []
        converged = False
        start = time.perf_counter()
        progress = tqdm(
            total=self.max_iter,
            desc=f"fit rank {rank}",
            disable=not self.verbose,
            leave=False,
            unit="it",
        )
        with progress:
            for iteration in range(1, self.max_iter + 1):
                if self.solver == "exact":
                    W = exact_half_step(rows, X, rho, lam, order, None, lam1)
                    X = exact_half_step(
                        columns, W, rho, lam, order, column_segments, lam1
                    )
                else:
                    W = cg_half_step(rows, X, W, rho, lam, order, lam1=lam1)
                    X = cg_half_step(
                        columns, W, X, rho, lam, order, column_segments, lam1=lam1
                    )

                value = objective(W, X)
                if not (
                    np.isfinite(value) and np.isfinite(W).all() and np.isfinite(X).all()
                ):
                    raise _non_finite_error(self.solver, iteration)
                objectives.append(value)
                elapsed = time.perf_counter() - start
                progress.update(1)
                progress.set_postfix(objective=f"{value:.6g}")
                log.debug(
                    "iteration %d: objective %.8g, %.3f s", iteration, value, elapsed
                )

                if callback is not None and _call_callback(
                    callback, FitProgress(iteration, elapsed, value, *_read_only(W, X))
                ):
                    break
                if self.solver == "exact" and iteration > 1:
                    previous = objectives[-2]
                    if previous - value <= self.tol * abs(previous):
                        converged = True
                        break

        # The fitted attributes change only after a fit succeeds, so an error
        # or an exception from the callback leaves the previous fit intact.
        self.W_, self.X_, self.n_iter_ = W, X, iteration
        self.objective_ = objectives
        if self.solver == "exact" and not converged and iteration == self.max_iter:
            warnings.warn(
                f"SmoothMF did not converge in max_iter={self.max_iter} iterations "
                f"(tol={self.tol}). Increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=2,
            )
        log.info(
            "fitted rank %d in %d iterations, objective %.8g", rank, iteration, value
        )
        return self

    def reconstruct(self):
        """Return the low-rank estimate ``W_.T @ X_`` of shape (M, N)."""
        if not hasattr(self, "W_"):
            raise InvalidParameterError(
                "this SmoothMF is not fitted yet; call fit first."
            )
        return self.W_.T @ self.X_

    def fit_transform(self, Y, mask=None, **fit_params):
        """Fit the model and return ``Y`` with its missing entries filled.

        Takes the same arguments as :meth:`fit`. Observed entries are returned
        unchanged; missing ones come from :meth:`reconstruct`.
        """
        Y_checked, missing = check_matrix_and_mask(Y, mask)
        self.fit(Y_checked, missing, **fit_params)
        filled = np.array(Y_checked, dtype=np.result_type(Y_checked.dtype, self.dtype))
        filled[missing] = self.reconstruct()[missing]
        return filled
