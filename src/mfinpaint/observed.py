"""Products over the observed entries of a matrix, computed without dense masks.

An image row ``i`` uses the factor columns ``x_j`` of its observed entries
``j``. For each such line the solvers need the Gram block
``G_i = sum_j x_j x_j.T``, the right-hand side ``b_i = sum_j y_ij x_j`` and
the residual on the observed entries. :class:`ObservedLines` stores, for every line, the indices
and values of its observed entries padded to a common length inside chunks of
lines with similar counts, so that each product is a few batched BLAS calls
and the work is ``O(|Omega| R)`` or ``O(|Omega| R**2)``, not ``O(M N R)``.
"""

import numpy as np

__all__ = ["ObservedLines"]

# Elements of one gathered chunk (lines x padded entries x rank). At 2**18
# (2 MiB in float64) a chunk stays in cache between the gather and the
# products: Gram blocks at rank 50 on a 512 x 512 image with 90% missing
# took 7 ms per call against 21 ms at 2**22 (one OpenBLAS thread, 2-core
# AMD EPYC). The best size depends on the cache of the machine.
_CHUNK_ELEMENTS = 1 << 18


class ObservedLines:
    """Observed entries of each row of ``Y``, grouped into padded chunks.

    Parameters
    ----------
    Y : ndarray of shape (n_lines, n_other)
        Data. Values at unobserved entries are never read.
    observed : ndarray of bool, same shape as ``Y``
        True where an entry is observed.
    rank : int
        Rank of the factors, used to size the chunks.
    dtype : numpy dtype
        Floating type of the stored values.
    """

    def __init__(self, Y, observed, rank, dtype=np.float64):
        self.n_lines, self.n_other = Y.shape
        self.counts = observed.sum(axis=1)
        self.chunks = []

        # Lines sorted by count keep the padding small inside each chunk.
        order = np.argsort(self.counts, kind="stable")
        max_entries = max(_CHUNK_ELEMENTS // max(rank, 1), 1)
        start = 0
        while start < self.n_lines:
            stop = start + 1
            while stop < self.n_lines and (stop + 1 - start) * self.counts[
                order[stop]
            ] <= max(max_entries, self.counts[order[stop]]):
                stop += 1
            self.chunks.append(self._pack(Y, observed, order[start:stop], dtype))
            start = stop

    def _pack(self, Y, observed, lines, dtype):
        sub = observed[lines]
        rows, cols = np.nonzero(sub)
        counts = self.counts[lines]
        width = int(counts.max()) if len(counts) else 0
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        positions = np.arange(len(rows)) - starts[rows]

        # Padding points at an extra zero column of the gathered factor.
        index = np.full((len(lines), width), self.n_other, dtype=np.intp)
        index[rows, positions] = cols
        values = np.zeros((len(lines), width), dtype=dtype)
        values[rows, positions] = Y[lines][rows, cols]
        return lines, index, values

    def _padded(self, F):
        """Return ``F.T`` with an extra zero row, where padding indices point."""
        padded = np.zeros((self.n_other + 1, F.shape[0]), dtype=F.dtype)
        padded[:-1] = F.T
        return padded

    def gram(self, F):
        """Return ``G`` of shape (n_lines, R, R) and ``B`` of shape (n_lines, R).

        ``G[i] = sum_j f_j f_j.T`` and ``B[i] = sum_j y_ij f_j`` over the
        observed entries ``j`` of line ``i``, where ``f_j = F[:, j]``.
        """
        rank = F.shape[0]
        G = np.empty((self.n_lines, rank, rank), dtype=F.dtype)
        B = np.empty((self.n_lines, rank), dtype=F.dtype)
        padded = self._padded(F)
        for lines, index, values in self.chunks:
            Fg = np.take(padded, index, axis=0)
            Ft = Fg.transpose(0, 2, 1)
            G[lines] = Ft @ Fg
            B[lines] = (Ft @ values[..., None])[..., 0]
        return G, B

    def residual_sum_of_squares(self, F, V):
        """Return ``sum (y_ij - v_i . f_j)**2`` over the observed entries."""
        total = 0.0
        padded = self._padded(F)
        for lines, index, values in self.chunks:
            Fg = np.take(padded, index, axis=0)
            predicted = (Fg @ V[:, lines].T[..., None])[..., 0]
            residual = values - predicted
            total += float(np.vdot(residual, residual))
        return total
