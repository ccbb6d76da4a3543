"""Training steps in which dropped units take no part: grouped dropout masks.

The rows of a mini-batch are split into consecutive groups, and every row of
a group shares one Bernoulli keep-mask per droppable layer (the input layer
and each hidden layer; output units are never dropped). A group's forward
pass then needs only the kept submatrix of each weight matrix (rows: kept
units of the layer below, columns: kept units of the layer above) and its
backward pass produces gradients for that submatrix only: with rate 0.5 on
two wide hidden layers the products shrink to about a third of the dense
FLOPs (Graham, Reizenstein and Robinson, 2015, arXiv 1502.02478).

The step computes exactly what the dense masked step computes (per-row masks
expanded from the group masks, dropped units multiplied by zero), see
``tests/dense_reference.py``; it fills the *full* flat gradient, zero where a
unit was dropped in every group, so that the optimiser applies the L2
penalty, momentum and Adam's moments to every weight as ordinary dropout
does.

Where the time goes besides the products, and how it is kept small:

* gathering a kept submatrix: ``np.take`` of the kept rows (contiguous
  copies) into a scratch buffer, then of the kept columns into the layer's
  submatrix buffer; both with ``out=`` into buffers allocated once, and
  ``mode="clip"`` (with the default ``"raise"``, ``take`` copies through a
  temporary; the indices are in range by construction);
* scattering a submatrix gradient into the full one: SciPy's compiled
  CSR-to-dense accumulation (``csr_todense``), given the group's index
  pattern as a CSR structure; it adds in place and is two to three times
  faster than ``np.add.at`` with flat indices (no BLAS is involved);
* the inverted-dropout scale ``1 / (1 - p)`` of a layer is applied to the
  next layer's pre-activation (forward) and to its delta (backward), not to
  a copy of the activations: no noisy buffer and no extra pass.

A group that keeps no unit of a layer is computed as the dense masked step
would: the layer above then sees only its biases, and the group's
contribution to that layer's weight gradient is zero. Nothing is redrawn,
so the masks stay exactly Bernoulli with the layer's rate.

Only Bernoulli dropout is supported. Gaussian noise multiplies every unit by
a non-zero factor, so nothing can be skipped. Alpha dropout sends a unit to
``a * h + b`` if kept and to the constant ``d = a * c + b`` if dropped (``c``
SELU's saturation value). A group's next pre-activation is then
``a * (H_kept @ W[kept]) + b * colsum(W[kept]) + d * colsum(W[dropped])`` plus
the bias, on the kept columns: the kept submatrix product as here, plus two
matrix-vector products per group folded into the bias. In the backward pass
the dropped rows of ``W`` do get a gradient, ``d`` times the column sums of
the group's delta (an outer product to scatter), and the kept rows get
``b`` times the same sums on top of ``a * H_kept.T @ delta``.
"""

import itertools

import numpy as np
import scipy.sparse as sp

from .activations import DERIVATIVES, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .losses import LOSSES, output_delta
from .noise import draw_keep_mask, drop_threshold, keep_scale

try:  # compiled in-place accumulation of a CSR matrix into a dense array
    from scipy.sparse._sparsetools import csr_todense as _csr_add_into_dense
except ImportError:  # pragma: no cover - a SciPy that moved its private tools
    _csr_add_into_dense = None


def parameter_views(flat, layer_units):
    """Weight matrices ``(fan_in, fan_out)`` then bias vectors, as views of
    ``flat`` in the network's layout (all weights first, row-major)."""
    coefs, intercepts, start = [], [], 0
    pairs = list(itertools.pairwise(layer_units))
    for fan_in, fan_out in pairs:
        coefs.append(flat[start : start + fan_in * fan_out].reshape(fan_in, fan_out))
        start += fan_in * fan_out
    for _, fan_out in pairs:
        intercepts.append(flat[start : start + fan_out])
        start += fan_out
    return coefs, intercepts


def group_bounds(n_rows, group_size):
    """``(start, stop)`` of each group of consecutive rows; ``group_size``
    None means one group for the whole batch. The last group may be short."""
    size = n_rows if group_size is None else group_size
    return [(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


class SubmatrixStep:
    """One training step's forward and backward pass on kept submatrices.

    Parameters
    ----------
    layer_units : list of int
        Units per layer, input and output included.
    activation : str
        Hidden activation, a key of ``HIDDEN_ACTIVATIONS``.
    out_activation : str
        Output activation, a key of ``OUTPUT_ACTIVATIONS``.
    loss : str
        Loss, a key of ``LOSSES`` (paired with ``out_activation``).
    dtype : numpy floating dtype
    rates : sequence of float
        Bernoulli drop rate of the input layer, then of each hidden layer
        (``len(layer_units) - 1`` values); 0 keeps every unit of that layer.
    group_size : int or None
        Rows sharing one mask; None for one mask per mini-batch.
    max_batch : int
        Largest number of rows of a batch: buffers are sized for it (and
        reallocated, once, if a larger batch comes).
    """

    def __init__(
        self,
        layer_units,
        activation,
        out_activation,
        loss,
        dtype,
        rates,
        group_size,
        max_batch,
    ):
        self.layer_units = list(layer_units)
        self.n_weights = len(self.layer_units) - 1
        if len(rates) != self.n_weights:
            raise ValueError(
                f"Expected {self.n_weights} dropout rates (input and hidden "
                f"layers), got {len(rates)}."
            )
        if group_size is not None and group_size < 1:
            raise ValueError(f"group_size must be None or >= 1, got {group_size}.")
        self.activation = activation
        self.out_activation = out_activation
        self.loss_name = loss
        self.dtype = np.dtype(dtype)
        self.thresholds = [drop_threshold(rate) for rate in rates]
        # Python floats: they keep float32 arithmetic in float32.
        self.scales = [keep_scale(t) for t in self.thresholds]
        self.group_size = group_size
        self.max_batch = max_batch
        self._allocate()

    # -- buffers ----------------------------------------------------------
    def _allocate(self):
        units, dtype = self.layer_units, self.dtype
        rows = self.max_batch if self.group_size is None else self.group_size
        rows = min(rows, self.max_batch)
        n_groups = -(-self.max_batch // rows)
        sizes = [a * b for a, b in itertools.pairwise(units)]
        # Kept submatrix of each weight matrix, for the current group.
        self._sub_weights = [np.empty(size, dtype) for size in sizes]
        # Shared scratch: the kept rows of a matrix while gathering, then a
        # submatrix gradient before it is scattered (never both at once).
        self._scratch = np.empty(max(sizes), dtype)
        self._sub_biases = [np.empty(w, dtype) for w in units[1:]]
        self._bias_grad = np.empty(max(units[1:]), dtype)
        # Activations (index 0: the kept input columns) and deltas, per layer.
        self._acts = [np.empty(rows * w, dtype) for w in units[:-1]]
        self._deltas = [np.empty(rows * w, dtype) for w in units[1:]]
        self._output = np.empty((self.max_batch, units[-1]), dtype)
        self._bool_scratch = np.empty(rows * max(units), dtype=bool)
        # Keep masks of every group, and the kept indices of the current one.
        self._masks = [
            np.empty((n_groups, w), dtype=bool) if t else None
            for t, w in zip(self.thresholds, units[:-1], strict=True)
        ]
        self._all_units = [np.arange(w) for w in units]
        self._kept = [np.empty(w, dtype=np.intp) for w in units]
        # Index pattern of a scattered submatrix gradient, as CSR structure;
        # 32-bit indices when they fit, half the bytes to write per group.
        index_type = np.int32 if max(sizes) < 2**31 else np.intp
        self._indptr = np.empty(max(units[:-1]) + 1, dtype=index_type)
        self._indices = np.empty(max(sizes), dtype=index_type)

    # -- masks --------------------------------------------------------------
    def draw_masks(self, rng, n_rows):
        """Draw the keep masks of a batch of ``n_rows`` rows.

        Returns one boolean array per droppable layer, shape
        ``(n_groups, width)`` (a view of an internal buffer, overwritten by
        the next draw), or None for a layer without dropout. Layers are
        drawn in order, input first, from ``rng``'s raw bits.
        """
        if n_rows > self.max_batch:
            self.max_batch = n_rows
            self._allocate()
        n_groups = len(group_bounds(n_rows, self.group_size))
        masks = []
        for threshold, buffer in zip(self.thresholds, self._masks, strict=True):
            if buffer is None:
                masks.append(None)
                continue
            draw_keep_mask(rng, threshold, buffer[:n_groups])
            masks.append(buffer[:n_groups])
        return masks

    def _kept_units(self, layer, masks, group):
        """Indices of the units of ``layer`` kept by ``group``, or None when
        the layer keeps all its units (no dropout, or the output layer)."""
        mask = masks[layer] if layer < self.n_weights else None
        if mask is None:
            return None
        row = mask[group]
        kept = self._kept[layer][: np.count_nonzero(row)]
        np.compress(row, self._all_units[layer], out=kept)
        return kept

    # -- the step -----------------------------------------------------------
    def train_step_gradient(self, params, grad, X, y, sample_weight, rng):
        """Draw the masks, then run :meth:`gradient`; same return values."""
        masks = self.draw_masks(rng, X.shape[0])
        return self.gradient(params, grad, X, y, sample_weight, masks)

    def gradient(self, params, grad, X, y, sample_weight, masks):
        """Forward and backward pass of one batch with the given group masks.

        Fills ``grad`` (the flat vector, zeroed first) with the gradient of
        the batch's (sample-weighted) mean loss, without any L2 penalty.
        Returns the loss and the batch's total sample weight.
        """
        n_rows = X.shape[0]
        if n_rows > self.max_batch:  # e.g. partial_fit with a larger batch
            self.max_batch = n_rows
            self._allocate()
        weight_sum = n_rows if sample_weight is None else float(np.sum(sample_weight))
        coefs, intercepts = parameter_views(params, self.layer_units)
        coef_grads, intercept_grads = parameter_views(grad, self.layer_units)
        grad.fill(0)
        output = self._output[:n_rows]
        for group, (start, stop) in enumerate(group_bounds(n_rows, self.group_size)):
            kept = [
                self._kept_units(layer, masks, group)
                for layer in range(self.n_weights + 1)
            ]
            sub_weights = self._gather_weights(coefs, kept)
            inputs = self._forward(
                X[start:stop], kept, sub_weights, intercepts, output[start:stop]
            )
            delta = self._output_delta(
                output[start:stop], y[start:stop], sample_weight, start, weight_sum
            )
            self._backward(
                delta, inputs, kept, sub_weights, coef_grads, intercept_grads
            )
        loss = LOSSES[self.loss_name](y, output, sample_weight)
        return loss, weight_sum

    def _gather_weights(self, coefs, kept):
        subs = []
        for i, W in enumerate(coefs):
            rows, cols = kept[i], kept[i + 1]
            n_rows = W.shape[0] if rows is None else rows.size
            n_cols = W.shape[1] if cols is None else cols.size
            out = self._sub_weights[i][: n_rows * n_cols].reshape(n_rows, n_cols)
            subs.append(_gather(W, rows, cols, self._scratch, out))
        return subs

    def _forward(self, X_group, kept, sub_weights, intercepts, output):
        """Forward pass on the kept units; returns each layer's input."""
        n = X_group.shape[0]
        A = self._kept_inputs(X_group, kept[0])
        inputs = []
        hidden = HIDDEN_ACTIVATIONS[self.activation]
        for i, W in enumerate(sub_weights):
            inputs.append(A)
            last = i == self.n_weights - 1
            width = W.shape[1]
            Z = output if last else _rows(self._acts[i + 1], n, width)
            matmul_into(A, W, Z)
            if self.thresholds[i]:
                Z *= self.scales[i]
            Z += _take(intercepts[i], kept[i + 1], self._sub_biases[i])
            if last:
                OUTPUT_ACTIVATIONS[self.out_activation](Z)
            else:
                hidden(Z, self._bool_scratch[: Z.size].reshape(Z.shape))
                A = Z
        return inputs

    def _kept_inputs(self, X_group, kept):
        if kept is None:
            return X_group
        if sp.issparse(X_group):
            # SciPy's column selection allocates, as the sparse path of the
            # dense network does.
            return X_group[:, kept]
        out = _rows(self._acts[0], X_group.shape[0], kept.size)
        return np.take(X_group, kept, axis=1, out=out, mode="clip")

    def _output_delta(self, output, y, sample_weight, start, weight_sum):
        """The derivative of the batch's mean loss at the output of the rows
        ``start:start + len(output)`` (one group sharing a mask)."""
        n, width = output.shape
        delta = _rows(self._deltas[-1], n, width)
        weights = None if sample_weight is None else sample_weight[start : start + n]
        return output_delta(
            LOSSES[self.loss_name], output, y, weights, weight_sum, delta
        )

    def _backward(self, delta, inputs, kept, sub_weights, coef_grads, intercept_grads):
        derivative = DERIVATIVES[self.activation]
        for i in range(self.n_weights - 1, -1, -1):
            rows, cols = kept[i], kept[i + 1]
            bias_grad = np.sum(delta, axis=0, out=self._bias_grad[: delta.shape[1]])
            _scatter_add_vector(intercept_grads[i], cols, bias_grad)
            if self.thresholds[i]:
                delta *= self.scales[i]
            A = inputs[i]
            W = sub_weights[i]
            sub_grad = self._scratch[: W.size].reshape(W.shape)
            matmul_transposed_a_into(A, delta, sub_grad)
            self._scatter_add_matrix(coef_grads[i], rows, cols, sub_grad, i)
            if i == 0:
                return
            below = _rows(self._deltas[i - 1], delta.shape[0], W.shape[0])
            matmul_into(delta, W.T, below)
            derivative(A, below, self._bool_scratch[: A.size].reshape(A.shape))
            delta = below

    def _scatter_add_matrix(self, G, rows, cols, sub, layer):
        """``G[rows][:, cols] += sub`` for the weights of ``layer`` (None:
        every row / column)."""
        if sub.size == 0:
            return
        if rows is None and cols is None:
            G += sub
            return
        n_in, n_out = G.shape
        if _csr_add_into_dense is None:
            rows = np.arange(n_in) if rows is None else rows
            cols = np.arange(n_out) if cols is None else cols
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
        indices[...] = self._all_units[layer + 1] if cols is None else cols
        _csr_add_into_dense(
            n_in, n_out, indptr, indices.reshape(-1), sub.reshape(-1), G
        )


def _rows(flat, n, width):
    """The first ``n`` rows of a flat buffer seen as a C-contiguous matrix."""
    return flat[: n * width].reshape(n, width)


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
        kept_rows = _rows(scratch, rows.size, W.shape[1])
        W = np.take(W, rows, axis=0, out=kept_rows, mode="clip")
    return np.take(W, cols, axis=1, out=out, mode="clip")


def _scatter_add_vector(g, kept, values):
    if kept is None:
        g += values
    else:
        # Indices are unique within a group: fancy-index addition is exact.
        np.add.at(g, kept, values)


def matmul_into(A, W, out):
    """``A @ W`` into ``out``; ``A`` dense or sparse."""
    if sp.issparse(A):
        out[...] = A @ W
    else:
        np.matmul(A, W, out=out)


def matmul_transposed_a_into(A, delta, out):
    """``A.T @ delta`` into ``out``; ``A`` dense or sparse."""
    if sp.issparse(A):
        out[...] = A.T @ delta
    else:
        np.matmul(A.T, delta, out=out)
