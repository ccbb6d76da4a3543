"""How a pass of the network drops units: one mask per row, or per group of rows.

:class:`skdrop._core.network.Network` runs one forward and backward pass;
a masking strategy supplies what differs between the ways of dropping
units, so that both share the network's buffers, its flat parameter layout
and the gradient at the output:

* :class:`RowMasks` gives every row its own noise from the layers' noise
  objects (Bernoulli, Gaussian and alpha dropout, and the relaxed masks of
  learned rates). The pass computes with whole weight matrices on a noisy
  copy of each activation, and the gradient flows back through the noise.
  With no noise objects at all it is the plain pass of prediction.
* :class:`GroupMasks` makes consecutive rows share one Bernoulli keep mask
  per droppable layer. A group's pass then needs only the kept submatrix
  of each weight matrix (rows: kept units of the layer below, columns:
  kept units of the layer above), and its backward pass produces gradients
  for that submatrix only: with rate 0.5 on two wide hidden layers the
  products shrink to about a third of the dense FLOPs (Graham, Reizenstein
  and Robinson, 2015, arXiv 1502.02478). Inverted dropout's ``1 / (1 - p)``
  is applied to the next layer's pre-activation and to its delta, not to a
  copy of the activations. It computes exactly what per-row masks expanded
  from the group masks compute (``tests/dense_reference.py``), and fills
  the *full* gradient, zero where a unit was dropped in every group, so
  that the L2 penalty, momentum and Adam's moments reach every weight as
  ordinary dropout does.

A strategy is used in this order: :meth:`draw` the masks of a batch, then
per group of rows (:meth:`groups`) :meth:`enter` it, which gives the
weights and biases its pass computes with; the pass asks for the noisy
input and hidden activations, and in the backward pass for the buffers
the parameter gradients go to and for the gradient through the noise.

Only noise that zeroes the dropped units can share masks. Gaussian noise
multiplies every unit by a non-zero factor, so nothing can be skipped.
Alpha dropout could: it sends a dropped unit to a constant ``d``, so a
group's next pre-activation is the kept submatrix product (times ``a``)
plus two matrix-vector products per group folded into the bias, and the
dropped rows of ``W`` get ``d`` times the column sums of the group's delta.
"""

import numpy as np
import scipy.sparse as sp

from .concrete import RelaxedBernoulli
from .submatrix import KeptSubmatrices, rows_of


def group_bounds(n_rows, group_size):
    """``(start, stop)`` of each group of consecutive rows; ``group_size``
    ``"batch"`` means one group for the whole batch. The last group may be
    short."""
    size = n_rows if group_size == "batch" else group_size
    return [(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


class RowMasks:
    """Every row its own noise, drawn by the layers' noise objects.

    Parameters
    ----------
    dropouts : list of Noise or None
        The noise of the input layer, then of each hidden layer (None: none).
    """

    def __init__(self, dropouts):
        self.dropouts = list(dropouts)
        self.scales = [None] * len(self.dropouts)
        self._noisy = [None] * len(self.dropouts)
        self._capacity = 0
        self._input_delta = None

    def draw(self, rng, n_rows):
        """Draw the noise of a batch of ``n_rows`` rows, input layer first."""
        if n_rows > self._capacity:
            # Noisy copies of the noisy layers: the clean activation stays
            # available for the derivative of the activation function.
            self._noisy = [
                None if d is None else np.empty(n_rows * d.width, d.dtype)
                for d in self.dropouts
            ]
            self._capacity = n_rows
        for dropout in self.dropouts:
            if dropout is not None:
                dropout.sample(rng, n_rows)

    def groups(self, n_rows):
        return [(0, n_rows)]

    def enter(self, group, coefs, intercepts):
        return coefs, intercepts

    def noisy_input(self, X):
        dropout = self.dropouts[0]
        if dropout is None:
            return X
        if sp.issparse(X):
            return dropout.apply_sparse(X)
        return dropout.apply(X, rows_of(self._noisy[0], X.shape[0], X.shape[1]))

    def noisy_hidden(self, layer, H):
        dropout = self.dropouts[layer]
        if dropout is None:
            return H
        return dropout.apply(H, rows_of(self._noisy[layer], H.shape[0], H.shape[1]))

    def start_gradient(self, grad, noise_grad):
        """The pass writes every parameter gradient; the noise's own (learned
        rates) are added to, so they start at zero."""
        noise_grad[...] = 0.0

    def bias_gradient_out(self, layer, gradient, width):
        return gradient

    def add_bias_gradient(self, layer, gradient, values):
        """Nothing to add: the pass wrote ``gradient`` itself."""

    def weight_gradient_out(self, layer, gradient, shape):
        return gradient

    def add_weight_gradient(self, layer, gradient, values):
        """Nothing to add: the pass wrote ``gradient`` itself."""

    def through_noise(self, layer, clean, upstream):
        """Turn ``upstream`` (the gradient at the noisy activation of
        ``layer``) into the gradient at its clean activation, in place; a
        learned rate also takes its own gradient from it."""
        dropout = self.dropouts[layer]
        if dropout is None:
            return
        if isinstance(dropout, RelaxedBernoulli):
            dropout.add_rate_gradient(clean, upstream)
        dropout.backward(upstream)

    def finish_backward(self, delta, first_weights, X):
        """Only a learned input rate needs the gradient at the input."""
        dropout = self.dropouts[0]
        if not isinstance(dropout, RelaxedBernoulli):
            return
        upstream = self._input_delta_rows(delta.shape[0], first_weights.shape[0])
        np.matmul(delta, first_weights.T, out=upstream)
        dropout.add_rate_gradient(X, upstream)

    def _input_delta_rows(self, n_rows, width):
        if self._input_delta is None or self._input_delta.size < n_rows * width:
            self._input_delta = np.empty(n_rows * width, self.dropouts[0].dtype)
        return rows_of(self._input_delta, n_rows, width)


class GroupMasks:
    """Consecutive rows share one Bernoulli keep mask per droppable layer.

    Parameters
    ----------
    layer_units : list of int
        Units per layer, input and output included.
    dropouts : list of Noise or None
        The noise of the input layer, then of each hidden layer (None: no
        dropout there). Each draws its own shared masks and gives the scale
        of a kept unit: only kinds that zero the dropped units can.
    group_size : int or "batch"
        Rows sharing one mask; ``"batch"`` for one mask per batch.
    dtype : numpy floating dtype
    """

    def __init__(self, layer_units, dropouts, group_size, dtype):
        self.layer_units = list(layer_units)
        n_droppable = len(self.layer_units) - 1
        if len(dropouts) != n_droppable:
            raise ValueError(
                f"Expected {n_droppable} dropout layers (input and hidden "
                f"layers), got {len(dropouts)}."
            )
        cannot_share = [
            d for d in dropouts if d is not None and not d.zeroes_dropped_units
        ]
        if cannot_share:
            raise ValueError(
                f"Rows can share dropout masks only with noise that zeroes the "
                f"dropped units; {type(cannot_share[0]).__name__} does not."
            )
        if group_size != "batch" and group_size < 1:
            raise ValueError(f"group_size must be 'batch' or >= 1, got {group_size}.")
        self.group_size = group_size
        self.dropouts = list(dropouts)
        self.scales = [None if d is None else d.shared_mask_scale for d in dropouts]
        self.submatrices = KeptSubmatrices(self.layer_units, dtype)
        self._masks = [None] * n_droppable
        self._n_groups = 0
        self._kept = [None] * (n_droppable + 1)

    def draw(self, rng, n_rows):
        """Draw the keep masks of a batch of ``n_rows`` rows.

        Returns one boolean array per droppable layer, shape
        ``(n_groups, width)`` (a view of an internal buffer that a caller
        may edit before the pass, overwritten by the next draw), or None for
        a layer without dropout. Layers are drawn in order, input first,
        from ``rng``'s raw bits.
        """
        n_groups = len(self.groups(n_rows))
        if n_groups > self._n_groups:
            self._masks = [
                None if d is None else np.empty((n_groups, d.width), dtype=bool)
                for d in self.dropouts
            ]
            self._n_groups = n_groups
        masks = []
        for dropout, buffer in zip(self.dropouts, self._masks, strict=True):
            if buffer is None:
                masks.append(None)
                continue
            dropout.draw_shared_mask(rng, buffer[:n_groups])
            masks.append(buffer[:n_groups])
        return masks

    def groups(self, n_rows):
        return group_bounds(n_rows, self.group_size)

    def enter(self, group, coefs, intercepts):
        """Select the units ``group`` keeps; return the kept submatrices of
        the weights and the kept entries of the biases."""
        kept = self._kept
        for layer, mask in enumerate(self._masks):
            kept[layer] = self.submatrices.kept_units(layer, mask, group)
        return self.submatrices.gather(coefs, intercepts, kept)

    def noisy_input(self, X):
        return self.submatrices.kept_columns(X, self._kept[0])

    def noisy_hidden(self, layer, H):
        return H

    def start_gradient(self, grad, noise_grad):
        """Groups add their gradients into the zeroed full gradient."""
        grad.fill(0)

    def bias_gradient_out(self, layer, gradient, width):
        return self.submatrices.bias_scratch(width)

    def add_bias_gradient(self, layer, gradient, values):
        self.submatrices.scatter_add_vector(gradient, self._kept[layer + 1], values)

    def weight_gradient_out(self, layer, gradient, shape):
        return self.submatrices.matrix_scratch(shape)

    def add_weight_gradient(self, layer, gradient, values):
        self.submatrices.scatter_add_matrix(
            gradient, self._kept[layer], self._kept[layer + 1], values, layer
        )

    def through_noise(self, layer, clean, upstream):
        """The scale was applied to the delta: nothing more to do."""

    def finish_backward(self, delta, first_weights, X):
        """Group masks have no learned rates: nothing to finish."""
