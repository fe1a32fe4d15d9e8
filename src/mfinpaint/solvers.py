"""Half-steps of alternating least squares for smoothing matrix factorization.

With the other factor ``F`` fixed, the factor ``V`` (rank x n) of one side
solves the normal equations

    (G_i + rho I) v_i + sum_k P[i, k] v_k = b_i,    i = 1..n,

where ``G_i`` and ``b_i`` come from the observed entries of line ``i``
(:class:`~mfinpaint.observed.ObservedLines`) and ``L`` is the smoothing
penalty matrix ``P = lam L_order + lam1 L_1`` (:mod:`~mfinpaint.difference`).
Stacked line by line, with unknown ``i * R + a`` for component ``a`` of
``v_i``, this is one symmetric positive definite band matrix of
half-bandwidth ``order * R``.

The work runs in NumPy and SciPy BLAS and LAPACK calls, so its threads follow
``threadpoolctl`` and the usual variables such as ``OMP_NUM_THREADS``.
"""

import numpy as np
from scipy.linalg import lapack

from .difference import apply_penalty, penalty_bands, penalty_terms
from .errors import SingularSystemError

__all__ = ["exact_half_step", "cg_half_step", "band_normal_matrix", "CG_STEPS"]

# Conjugate-gradient steps per half-step in the published solver.
CG_STEPS = 5


def band_normal_matrix(G, rho, lam, order, segments=None, lam1=0.0):
    """Return the normal-equation matrix in LAPACK lower band storage.

    Row ``d`` of the result contains the ``d``-th subdiagonal:
    ``band[d, p] = A[p + d, p]`` for unknowns ``p = i * R + a``. The Gram
    blocks ``G`` (n x R x R) fill rows ``0..R-1``, and line ``i`` couples to
    line ``i + k`` through ``P[i, i + k] * I`` in row ``k * R``, where
    ``P = lam L_order + lam1 L_1``.
    """
    n, rank, _ = G.shape
    penalty = penalty_bands(n, penalty_terms(lam, order, lam1), segments)
    width = (len(penalty) - 1) * rank + 1

    # LAPACK reads the band column by column, so it is built in Fortran order.
    # Column i * R + b starts with G[i, b:, b], which equals the contiguous row
    # slice G[i, b, b:] because Gram blocks are symmetric.
    band = np.zeros((width, n * rank), dtype=G.dtype, order="F")
    columns = band.T.reshape(n, rank, width)
    for b in range(rank):
        columns[:, b, : rank - b] = G[:, b, b:]

    band[0] += np.repeat(rho + penalty[0], rank).astype(G.dtype)
    for k in range(1, len(penalty)):
        band[k * rank] += np.repeat(penalty[k], rank).astype(G.dtype)
    return band


def _solve_band(band, B):
    """Solve ``A x = B.ravel()`` by banded Cholesky (LAPACK ``?pbtrf``/``?pbtrs``)."""
    factor, solve = lapack.get_lapack_funcs(("pbtrf", "pbtrs"), dtype=band.dtype)
    cholesky, info = factor(band, lower=1, overwrite_ab=1)
    if info != 0:
        raise _singular_error()
    x, info = solve(cholesky, B.ravel(), lower=1, overwrite_b=1)
    if info != 0:
        raise _singular_error()
    return x.reshape(B.shape)


def exact_half_step(lines, F, rho, lam, order, segments=None, lam1=0.0):
    """Solve the normal equations for one factor exactly.

    The band matrix is factored by LAPACK's banded Cholesky in
    ``O(n (order R)**3)`` work, after ``O(|Omega| R**2)`` work for the Gram
    blocks.

    Parameters
    ----------
    lines : ObservedLines
        Observed entries of each line of the side being solved.
    F : ndarray of shape (rank, n_other)
        The fixed factor.
    rho, lam : float
        Ridge and smoothing weights.
    order : {1, 2}
        Order of the difference operator.
    segments : sequence of int, optional
        Lengths of the runs of lines that are smoothed independently.
    lam1 : float, default=0.0
        Weight of an added first-order smoothing term.

    Returns
    -------
    V : ndarray of shape (rank, n_lines)
    """
    G, B = lines.gram(F)
    rank = B.shape[1]
    if not (np.isfinite(G).all() and np.isfinite(B).all()):
        raise SingularSystemError(
            "the normal equations hold NaN or infinite values: Y is badly "
            "scaled or the factors diverged. Scale Y to values near 1."
        )
    if lam == 0 and lam1 == 0:
        # Without smoothing the system splits into independent R x R blocks.
        G += rho * np.eye(rank, dtype=G.dtype)
        try:
            V = np.linalg.solve(G, B[..., None])[..., 0].T
        except np.linalg.LinAlgError as error:
            raise _singular_error() from error
    else:
        band = band_normal_matrix(G, rho, lam, order, segments, lam1)
        V = _solve_band(band, B).T

    if not np.isfinite(V).all():
        raise _singular_error()
    return V


def _singular_error():
    # Before a fit, check_solvable rejects rho = lam = 0 with too few observed
    # entries, so this also covers rho > 0, where float32 can lose precision.
    return SingularSystemError(
        "the normal equations are singular or lost too much precision to be "
        "solved. Use rho > 0, dtype float64 instead of float32, or smaller "
        "lam and lam1, or scale Y to values near 1, because rho, lam and lam1 "
        "do not scale with Y."
    )


def _normal_operator(G, V, rho, terms, segments):
    """Return ``A(V)``, the left-hand side of the normal equations at ``V``.

    ``G`` contains the Gram blocks of the observed entries, so the data part
    ``F P_Omega(V.T F).T`` is one batched R x R product per line.
    """
    AV = np.matmul(G, V.T[..., None])[..., 0].T + rho * V
    if terms:
        AV += apply_penalty(V, terms, segments)
    return AV


def cg_half_step(
    lines, F, V, rho, lam, order, segments=None, steps=CG_STEPS, *, lam1=0.0
):
    """Take ``steps`` plain conjugate-gradient steps from ``V``.

    This is the published update: no preconditioner and no stopping test,
    warm-started at the current factor. The Gram blocks are formed once per
    half-step from the observed entries, which costs less than the six
    masked products they replace. Returns the updated factor.
    """
    G, B = lines.gram(F)
    terms = penalty_terms(lam, order, lam1)
    V = V.copy()
    r = B.T - _normal_operator(G, V, rho, terms, segments)
    p = r.copy()
    rr = float(np.vdot(r, r))
    for _ in range(steps):
        if rr == 0.0:
            break

        Ap = _normal_operator(G, p, rho, terms, segments)
        curvature = float(np.vdot(p, Ap))
        if curvature <= 0.0:
            # p is in the null space of A, or p.T A p underflowed because the
            # factors decay to zero on all-zero data. No step can lower f.
            break
        alpha = rr / curvature
        V += alpha * p
        r -= alpha * Ap
        rr_new = float(np.vdot(r, r))
        p = r + (rr_new / rr) * p
        rr = rr_new
    return V
