"""Difference operators that smooth the factors along image rows and columns.

``Psi`` is the finite difference of order 1 (rows ``-1, 1``) or order 2 (rows
``1, -2, 1``) and ``L = Psi.T @ Psi`` is its Laplacian-like penalty matrix. A
factor may be split into segments, for example one per color channel, and then
no difference crosses a segment border. A penalty may also be a weighted sum
of both orders, given as ``((order, weight), ...)`` terms. Nothing here builds
a dense matrix.
"""

import numpy as np

__all__ = [
    "difference",
    "apply_laplacian",
    "laplacian_bands",
    "smoothing_penalty",
    "penalty_terms",
    "penalty_bands",
    "apply_penalty",
    "penalty_value",
]


def _check_order(order):
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}.")


def _segment_slices(n, segments):
    if segments is None:
        return [slice(0, n)]

    bounds = np.cumsum([0, *segments])
    if bounds[-1] != n:
        raise ValueError(f"segment lengths {list(segments)} do not add up to {n}.")
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def difference(V, order, segments=None):
    """Apply ``Psi`` along the last axis of ``V``, segment by segment.

    Returns the differences of all segments concatenated along the last axis.
    """
    _check_order(order)
    parts = [
        np.diff(V[..., s], n=order, axis=-1)
        for s in _segment_slices(V.shape[-1], segments)
    ]
    return np.concatenate(parts, axis=-1)


def apply_laplacian(V, order, segments=None):
    """Return ``V @ L``, the penalty gradient ``Psi.T Psi`` applied along the last axis.

    ``Psi.T d`` equals ``(-1)**order`` times the order-th difference of ``d``
    padded with ``order`` zeros at both ends.
    """
    _check_order(order)
    out = np.zeros_like(V)
    pad = [(0, 0)] * (V.ndim - 1) + [(order, order)]
    for s in _segment_slices(V.shape[-1], segments):
        if s.stop - s.start <= order:
            # A segment this short has no differences, so L is zero on it.
            continue
        d = np.diff(V[..., s], n=order, axis=-1)
        out[..., s] = (-1) ** order * np.diff(np.pad(d, pad), n=order, axis=-1)
    return out


def smoothing_penalty(V, order, segments=None):
    """Return ``||Psi V.T||_F**2`` for a factor ``V`` of shape ``(rank, n)``."""
    d = difference(V, order, segments)
    return float(np.vdot(d, d))


def laplacian_bands(n, order, segments=None):
    """Return the diagonals of ``L`` as an array of shape ``(order + 1, n)``.

    Row ``k`` contains the k-th superdiagonal ``L[t, t + k]`` at position ``t``
    (zero where ``t + k >= n``). For order 1 the main diagonal is
    ``1, 2, ..., 2, 1``; for order 2 it is ``1, 5, 6, ..., 6, 5, 1``.
    """
    _check_order(order)
    bands = np.zeros((order + 1, n))
    for s in _segment_slices(n, segments):
        length = s.stop - s.start
        if length <= order:
            continue

        # Each row of Psi contributes its outer product to L.
        stencil = np.array([-1.0, 1.0]) if order == 1 else np.array([1.0, -2.0, 1.0])
        for k in range(order + 1):
            for a in range(order + 1 - k):
                start = s.start + a
                bands[k, start : start + length - order] += stencil[a] * stencil[a + k]
    return bands


def penalty_terms(lam, order, lam1=0.0):
    """Return the smoothing penalty as ``((order, weight), ...)`` with no zero weight.

    The penalty matrix is ``lam * L_order + lam1 * L_1``: ``lam1`` adds
    first-order smoothing to a second-order penalty, which keeps the factors
    flat as well as straight.
    """
    terms = [(order, lam), (1, lam1)]
    return tuple((k, float(w)) for k, w in terms if w != 0)


def penalty_bands(n, terms, segments=None):
    """Return the diagonals of ``sum(weight * L_order)`` over ``terms``.

    The shape is ``(max_order + 1, n)``, laid out as in :func:`laplacian_bands`.
    """
    width = max((order for order, _ in terms), default=0)
    bands = np.zeros((width + 1, n))
    for order, weight in terms:
        bands[: order + 1] += weight * laplacian_bands(n, order, segments)
    return bands


def apply_penalty(V, terms, segments=None):
    """Return ``V @ sum(weight * L_order)`` over ``terms``, along the last axis."""
    out = np.zeros_like(V)
    for order, weight in terms:
        out += weight * apply_laplacian(V, order, segments)
    return out


def penalty_value(V, terms, segments=None):
    """Return ``sum(weight * ||Psi_order V.T||_F**2)`` over ``terms``."""
    return sum(
        weight * smoothing_penalty(V, order, segments) for order, weight in terms
    )
