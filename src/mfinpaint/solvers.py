"""Half-steps of alternating least squares for smoothing matrix factorization.

With the other factor ``F`` fixed, the factor ``V`` (rank x n) of one side
solves the normal equations

    (G_i + rho I) v_i + lam sum_k L[i, k] v_k = b_i,    i = 1..n,

where ``G_i`` and ``b_i`` come from the observed entries of line ``i``
(:class:`~mfinpaint.observed.ObservedLines`) and ``L`` is the smoothing
penalty matrix (:mod:`~mfinpaint.difference`). Stacked line by line this is
one symmetric positive definite band matrix of half-bandwidth ``order * R``.
"""

import numpy as np
import scipy.linalg

from .difference import apply_laplacian, laplacian_bands
from .errors import SingularSystemError

__all__ = ["exact_half_step", "cg_half_step", "CG_STEPS"]

# Conjugate-gradient steps per half-step in the published solver.
CG_STEPS = 5


def _banded_system(G, rho, lam, order, segments):
    """Return the upper band storage of the stacked normal-equation matrix."""
    n, rank, _ = G.shape
    size = n * rank
    bandwidth = order * rank
    ab = np.zeros((bandwidth + 1, size), dtype=G.dtype)

    # Dense R x R blocks on the diagonal: ab[u - d, q] holds A[q - d, q].
    for d in range(rank):
        ab[bandwidth - d].reshape(n, rank)[:, d:] = G[
            :, np.arange(rank - d), np.arange(d, rank)
        ]

    # lam * L couples entry a of line i with entry a of line i + k.
    bands = laplacian_bands(n, order, segments)
    ab[bandwidth] += rho + lam * np.repeat(bands[0], rank)
    for k in range(1, order + 1):
        ab[bandwidth - k * rank].reshape(n, rank)[k:] = lam * bands[k, : n - k, None]

    # LAPACK needs no band wider than the matrix itself.
    keep = min(bandwidth, size - 1) + 1
    return ab[-keep:]


def exact_half_step(lines, F, rho, lam, order, segments=None):
    """Solve the normal equations for one factor exactly.

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

    Returns
    -------
    V : ndarray of shape (rank, n_lines)
    """
    G, B = lines.gram(F)
    try:
        if lam == 0:
            # Without smoothing the system splits into independent R x R blocks.
            G += rho * np.eye(G.shape[1], dtype=G.dtype)
            return np.linalg.solve(G, B[..., None])[..., 0].T

        ab = _banded_system(G, rho, lam, order, segments)
        v = scipy.linalg.solveh_banded(
            ab, B.reshape(-1), overwrite_ab=True, overwrite_b=True, check_finite=False
        )
    except np.linalg.LinAlgError as error:
        raise SingularSystemError(
            "the normal equations are singular: with rho = 0 every row and column "
            "needs an observed entry or smoothing (lam > 0). Use rho > 0."
        ) from error
    return v.reshape(lines.n_lines, -1).T


def _normal_operator(lines, F, V, rho, lam, order, segments):
    """Return ``A(V)``, the left-hand side of the normal equations at ``V``."""
    AV = lines.normal_product(F, V).T + rho * V
    if lam != 0:
        AV += lam * apply_laplacian(V, order, segments)
    return AV


def cg_half_step(lines, F, V, rho, lam, order, segments=None, steps=CG_STEPS):
    """Take ``steps`` plain conjugate-gradient steps from ``V``.

    This is the published update: no preconditioner and no stopping test,
    warm-started at the current factor. Returns the updated factor.
    """
    V = V.copy()
    r = lines.rhs(F).T - _normal_operator(lines, F, V, rho, lam, order, segments)
    p = r.copy()
    rr = float(np.vdot(r, r))
    for _ in range(steps):
        if rr == 0.0:
            break

        Ap = _normal_operator(lines, F, p, rho, lam, order, segments)
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
