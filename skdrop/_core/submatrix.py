"""Kept submatrices: gather the weights a group of rows uses, scatter back
the gradient it produces.

When rows share a dropout mask (:class:`skdrop._core.masking.GroupMasks`),
their pass computes with the submatrix of each weight matrix whose rows are
the kept units of the layer below and whose columns are the kept units of
the layer above. Besides the products, the time goes to:

* gathering a kept submatrix: ``np.take`` of the kept rows (contiguous
  copies) into a scratch buffer, then of the kept columns into the layer's
  submatrix buffer; both with ``out=`` into buffers allocated once, and
  ``mode="clip"`` (with the default ``"raise"``, ``take`` copies through a
  temporary; the indices are in range by construction);
* scattering a submatrix gradient into the full one: SciPy's compiled
  CSR-to-dense accumulation (``csr_todense``), given the group's index
  pattern as a CSR structure; it adds in place and is two to three times
  faster than ``np.add.at`` with flat indices (no BLAS is involved).

A group that keeps no unit of a layer is computed as the dense masked step
would: the layer above then sees only its biases, and the group's
contribution to that layer's weight gradient is zero. Nothing is redrawn,
so the masks stay exactly Bernoulli with the layer's rate.
"""

import itertools

import numpy as np
import scipy.sparse as sp

try:  # compiled in-place accumulation of a CSR matrix into a dense array
    from scipy.sparse._sparsetools import csr_todense as _csr_add_into_dense
except ImportError:  # pragma: no cover - a SciPy that moved its private tools
    _csr_add_into_dense = None


def rows_of(flat, n_rows, width):
    """The first ``n_rows`` rows of a flat buffer seen as a C-contiguous matrix."""
    return flat[: n_rows * width].reshape(n_rows, width)


class KeptSubmatrices:
    """Buffers and kernels for the kept submatrices of one network.

    Parameters
    ----------
    layer_units : list of int
        Units per layer, input and output included.
    dtype : numpy floating dtype
    """

    def __init__(self, layer_units, dtype):
        units, dtype = list(layer_units), np.dtype(dtype)
        self.dtype = dtype
        sizes = [a * b for a, b in itertools.pairwise(units)]
        # Kept submatrix of each weight matrix, for the current group.
        self._sub_weights = [np.empty(size, dtype) for size in sizes]
        # Shared scratch: the kept rows of a matrix while gathering, then a
        # submatrix gradient before it is scattered (never both at once).
        self._scratch = np.empty(max(sizes), dtype)
        self._sub_biases = [np.empty(w, dtype) for w in units[1:]]
        self._bias_scratch = np.empty(max(units[1:]), dtype)
        self._kept_inputs = np.empty(0, dtype)
        self._all_units = [np.arange(w) for w in units]
        self._kept = [np.empty(w, dtype=np.intp) for w in units]
        # Index pattern of a scattered submatrix gradient, as CSR structure;
        # 32-bit indices when they fit, half the bytes to write per group.
        index_type = np.int32 if max(sizes) < 2**31 else np.intp
        self._indptr = np.empty(max(units[:-1]) + 1, dtype=index_type)
        self._indices = np.empty(max(sizes), dtype=index_type)

    def kept_units(self, layer, masks, group):
        """Indices of the units of ``layer`` that row ``group`` of ``masks``
        keeps, or None when every unit is kept (``masks`` None)."""
        if masks is None:
            return None
        row = masks[group]
        kept = self._kept[layer][: np.count_nonzero(row)]
        np.compress(row, self._all_units[layer], out=kept)
        return kept

    def gather(self, coefs, intercepts, kept):
        """The kept submatrix of every weight matrix and the kept entries of
        every bias vector (the arrays themselves where all is kept)."""
        weights, biases = [], []
        for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
            rows, cols = kept[i], kept[i + 1]
            n_rows = W.shape[0] if rows is None else rows.size
            n_cols = W.shape[1] if cols is None else cols.size
            out = rows_of(self._sub_weights[i], n_rows, n_cols)
            weights.append(_gather(W, rows, cols, self._scratch, out))
            biases.append(_take(b, cols, self._sub_biases[i]))
        return weights, biases

    def kept_columns(self, X, kept):
        """The kept columns of the rows ``X`` (``X`` itself if all are kept)."""
        if kept is None:
            return X
        if sp.issparse(X):
            # SciPy's column selection allocates, as a sparse noisy input does.
            return X[:, kept]
        size = X.shape[0] * kept.size
        if self._kept_inputs.size < size:
            self._kept_inputs = np.empty(size, self.dtype)
        out = rows_of(self._kept_inputs, X.shape[0], kept.size)
        return np.take(X, kept, axis=1, out=out, mode="clip")

    def bias_scratch(self, width):
        """Scratch for a kept bias gradient of ``width`` entries."""
        return self._bias_scratch[:width]

    def matrix_scratch(self, shape):
        """Scratch for a kept submatrix gradient of ``shape``."""
        return rows_of(self._scratch, *shape)

    @staticmethod
    def scatter_add_vector(g, kept, values):
        """``g[kept] += values`` (None: every entry)."""
        if kept is None:
            g += values
        else:
            # Indices are unique within a group: fancy-index addition is exact.
            np.add.at(g, kept, values)

    def scatter_add_matrix(self, G, rows, cols, sub, layer):
        """``G[rows][:, cols] += sub`` for the weights of ``layer`` (None:
        every row / column)."""
        if sub.size == 0:
            return
        if rows is None and cols is None:
            G += sub
            return
        n_in, n_out = G.shape
        if cols is None:
            cols = self._all_units[layer + 1]
        if _csr_add_into_dense is None:
            rows = self._all_units[layer] if rows is None else rows
            np.add.at(G, (rows[:, np.newaxis], cols), sub)
            return
        indptr = self._indptr[: n_in + 1]
        counts = indptr[1:]
        indptr[0] = 0
        if rows is None:
            counts.fill(sub.shape[1])
        else:
            counts.fill(0)
            counts[rows] = sub.shape[1]
        np.cumsum(counts, out=counts)
        indices = self._indices[: sub.size].reshape(sub.shape)
        indices[...] = cols
        _csr_add_into_dense(
            n_in, n_out, indptr, indices.reshape(-1), sub.reshape(-1), G
        )


def _take(vector, kept, out):
    if kept is None:
        return vector
    return np.take(vector, kept, out=out[: kept.size], mode="clip")


def _gather(W, rows, cols, scratch, out):
    """``W[rows][:, cols]`` into ``out``; None selects every row / column.

    Kept rows are contiguous copies, so they are gathered first (into
    ``scratch``) and the strided column gather then reads a smaller matrix.
    """
    if rows is None and cols is None:
        return W
    if cols is None:
        return np.take(W, rows, axis=0, out=out, mode="clip")
    if rows is not None:
        kept_rows = rows_of(scratch, rows.size, W.shape[1])
        W = np.take(W, rows, axis=0, out=kept_rows, mode="clip")
    return np.take(W, cols, axis=1, out=out, mode="clip")
