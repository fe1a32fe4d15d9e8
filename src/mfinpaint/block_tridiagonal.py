"""Batched dense linear algebra for symmetric positive definite block systems.

LAPACK routines on one small matrix at a time (``pbtrf``, or NumPy's batched
``inv`` and ``cholesky``, which loop over the batch) run far below the speed
of a batched matrix product. Both functions here therefore spend their work in
``matmul`` on stacks of blocks, with a number of Python steps that grows with
the logarithm of the block size or of the number of blocks, never linearly.
BLAS threads follow ``threadpoolctl`` and the usual environment variables.
"""

import numpy as np

__all__ = ["spd_inverse", "solve_block_tridiagonal"]

# Blocks of at most this size are inverted by LAPACK directly.
_LEAF_SIZE = 8


def _transpose(A):
    return np.swapaxes(A, -1, -2)


def spd_inverse(A):
    """Invert a stack of symmetric positive definite matrices.

    Splits each matrix as ``[[P, Q], [Q.T, S]]`` and uses the Schur complement
    ``C = S - Q.T P^-1 Q``, which is again positive definite, so no pivoting
    is needed:

        A^-1 = [[P^-1 + T C^-1 T.T, -T C^-1], [-C^-1 T.T, C^-1]],  T = P^-1 Q.

    Parameters
    ----------
    A : ndarray of shape (..., n, n)

    Returns
    -------
    ndarray of shape (..., n, n)

    Raises
    ------
    numpy.linalg.LinAlgError
        When a diagonal block of size at most 8 is exactly singular. A
        nearly singular matrix gives an inaccurate inverse without error.
    """
    n = A.shape[-1]
    if n <= _LEAF_SIZE:
        return np.linalg.inv(A)

    h = n // 2
    P, Q, S = A[..., :h, :h], A[..., :h, h:], A[..., h:, h:]
    P_inv = spd_inverse(P)
    T = P_inv @ Q
    C_inv = spd_inverse(S - _transpose(Q) @ T)
    U = T @ C_inv

    inverse = np.empty_like(A)
    inverse[..., :h, :h] = P_inv + U @ _transpose(T)
    inverse[..., :h, h:] = -U
    inverse[..., h:, :h] = -_transpose(U)
    inverse[..., h:, h:] = C_inv
    return inverse


def _kron_left(E, M, transpose=False):
    """Return ``kron(E, I) @ M`` (``kron(E, I).T @ M`` with ``transpose``)."""
    n, p, _ = E.shape
    if transpose:
        E = _transpose(E)
    if p == M.shape[-2]:
        return E @ M

    # E has a few entries per block (p is 1 or 2), so a sum of scaled copies
    # of M is cheaper than the dense product.
    parts = M.reshape(n, p, M.shape[-2] // p, M.shape[-1])
    out = np.zeros_like(parts)
    for a in range(p):
        for c in range(p):
            out[:, a] += E[:, a, c, None, None] * parts[:, c]
    return out.reshape(M.shape)


def _kron_right(M, E):
    """Return ``M @ kron(E, I)``."""
    return _transpose(_kron_left(E, _transpose(M), transpose=True))


def solve_block_tridiagonal(D, E, b):
    """Solve a symmetric positive definite block tridiagonal system.

    The system is ``E[i-1].T x[i-1] + D[i] x[i] + E[i] x[i+1] = b[i]`` for
    ``i = 0..n-1``. Block cyclic reduction eliminates the odd-numbered blocks,
    which leaves a block tridiagonal system of the same form on the even
    ones, and recurses. This is Cholesky factorization in an odd-even
    ordering, so it is as stable as Cholesky for positive definite systems.

    Parameters
    ----------
    D : ndarray of shape (n, k, k)
        Diagonal blocks. Overwritten.
    E : ndarray of shape (n - 1, p, p), p dividing k
        Blocks above the diagonal: ``A[i, i + 1] = kron(E[i], I)`` with an
        identity of size ``k / p``, so ``p = k`` gives dense blocks. Small
        ``p`` describes the smoothing couplings and saves most of the work on
        the first level.
    b : ndarray of shape (n, k)
        Right-hand side. Overwritten.

    Returns
    -------
    x : ndarray of shape (n, k)
    """
    n = D.shape[0]
    if n == 1:
        return (spd_inverse(D) @ b[..., None])[..., 0]

    # Odd block 2j + 1 couples to even block 2j through left = E[2j] and to
    # even block 2j + 2 through right = E[2j + 1], which the last odd block
    # lacks when n is even.
    n_odd, n_right = n // 2, (n - 1) // 2
    D_odd_inv = spd_inverse(D[1::2])
    left, right = E[0::2], E[1::2]
    left_inv = _kron_left(left, D_odd_inv)
    right_inv = _kron_left(right, D_odd_inv[:n_right], transpose=True)
    b_odd = b[1::2, :, None]

    # Schur complement on the even blocks, written into D[0::2] and b[0::2].
    # left_inv = left @ D_odd^-1 and right_inv = right.T @ D_odd^-1.
    D_even, b_even = D[0::2], b[0::2, :, None]
    D_even[:n_odd] -= _kron_right(left_inv, _transpose(left))
    D_even[1 : 1 + n_right] -= _kron_right(right_inv, right)
    b_even[:n_odd] -= left_inv @ b_odd
    b_even[1 : 1 + n_right] -= right_inv @ b_odd[:n_right]
    E_even = -_kron_right(left_inv[:n_right], right)

    x = np.empty_like(b)
    x[0::2] = solve_block_tridiagonal(D_even, E_even, b_even[..., 0])

    # Back substitution: x_odd = D_odd^-1 (b_odd - left.T x_left - right x_right).
    x_odd = D_odd_inv @ b_odd
    x_odd -= _transpose(left_inv) @ x[0 : 2 * n_odd : 2, :, None]
    x_odd[:n_right] -= _transpose(right_inv) @ x[2 : 2 * n_right + 1 : 2, :, None]
    x[1::2] = x_odd[..., 0]
    return x
