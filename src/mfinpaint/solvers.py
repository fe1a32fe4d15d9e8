"""Half-steps of alternating least squares for smoothing matrix factorization.

With the other factor ``F`` fixed, the factor ``V`` (rank x n) of one side
solves the normal equations

    (G_i + rho I) v_i + lam sum_k L[i, k] v_k = b_i,    i = 1..n,

where ``G_i`` and ``b_i`` come from the observed entries of line ``i``
(:class:`~mfinpaint.observed.ObservedLines`) and ``L`` is the smoothing
penalty matrix (:mod:`~mfinpaint.difference`). Stacked line by line this is
one symmetric positive definite matrix, block tridiagonal in R x R blocks for
order 1 and block pentadiagonal for order 2.
"""

import numpy as np

from .block_tridiagonal import solve_block_tridiagonal
from .difference import apply_laplacian, laplacian_bands
from .errors import SingularSystemError

__all__ = ["exact_half_step", "cg_half_step", "CG_STEPS"]

# Conjugate-gradient steps per half-step in the published solver.
CG_STEPS = 5


def _block_system(G, rho, lam, order, segments):
    """Return the normal equations as block tridiagonal ``(D, E)``.

    ``G`` becomes ``D`` in place. For order 1 the blocks are the lines
    themselves and ``A[i, i + 1] = lam * L[i, i + 1] * I``. For order 2 each
    block holds two consecutive lines, so the pentadiagonal line coupling
    becomes tridiagonal in 2R x 2R blocks. An odd number of lines gets one
    decoupled padding line with ``D = I``. ``E`` holds the scalar pattern of
    the coupling blocks, as :func:`solve_block_tridiagonal` expects.
    """
    n, rank, _ = G.shape
    bands = (lam * laplacian_bands(n, order, segments)).astype(G.dtype)
    diagonal = np.einsum("nii->ni", G)
    diagonal += (rho + bands[0])[:, None]
    if order == 1:
        return G, bands[1, : n - 1, None, None]

    pairs = (n + 1) // 2
    D = np.zeros((pairs, 2, rank, 2, rank), dtype=G.dtype)
    D[:, 0, :, 0] = G[0::2]
    D[: n // 2, 1, :, 1] = G[1::2]
    if n % 2:
        D[-1, 1, :, 1] = np.eye(rank)

    # Line 2j couples to 2j + 1 inside its block and to 2j + 2 (band 2) in the
    # next one, while line 2j + 1 reaches 2j + 2 (band 1) and 2j + 3 (band 2).
    within = bands[1, 0 : n - 1 : 2, None, None] * np.eye(rank)
    D[: n // 2, 0, :, 1] = within
    D[: n // 2, 1, :, 0] = within
    E = np.zeros((pairs - 1, 2, 2), dtype=G.dtype)
    E[:, 0, 0] = bands[2, 0 : 2 * pairs - 2 : 2]
    E[:, 1, 0] = bands[1, 1 : 2 * pairs - 1 : 2]
    E[:, 1, 1] = bands[2, 1 : 2 * pairs - 1 : 2]
    return D.reshape(pairs, 2 * rank, 2 * rank), E


def exact_half_step(lines, F, rho, lam, order, segments=None):
    """Solve the normal equations for one factor exactly.

    The stacked system is solved by block cyclic reduction
    (:func:`~mfinpaint.block_tridiagonal.solve_block_tridiagonal`) in
    ``O(n R**3)`` work, after ``O(|Omega| R**2)`` work for the Gram blocks.

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
    n, rank = B.shape
    if not (np.isfinite(G).all() and np.isfinite(B).all()):
        raise SingularSystemError(
            "the normal equations hold NaN or infinite values: Y is badly "
            "scaled or the factors diverged. Scale Y to values near 1."
        )
    try:
        if lam == 0:
            # Without smoothing the system splits into independent R x R blocks.
            G += rho * np.eye(rank, dtype=G.dtype)
            return np.linalg.solve(G, B[..., None])[..., 0].T

        D, E = _block_system(G, rho, lam, order, segments)
        if order == 2:
            B = np.concatenate([B, np.zeros((n % 2, rank), dtype=B.dtype)])
        v = solve_block_tridiagonal(D, E, B.reshape(D.shape[0], -1))
    except np.linalg.LinAlgError as error:
        raise _singular_error() from error

    if not np.isfinite(v).all():
        raise _singular_error()
    return v.reshape(-1, rank)[:n].T


def _singular_error():
    # Before a fit, check_solvable rejects rho = lam = 0 with too few observed
    # entries, so this also covers rho > 0, where float32 can lose precision.
    return SingularSystemError(
        "the normal equations are singular or lost too much precision to be "
        "solved. Use rho > 0, dtype float64 instead of float32, or a smaller lam."
    )


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
