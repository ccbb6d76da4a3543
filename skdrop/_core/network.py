"""The multilayer perceptron itself: weights, forward and backward passes.

This module knows nothing of estimators. A :class:`Network` owns its
parameters (views of one flat vector, :mod:`skdrop._core.layout`, or the
arrays it was given for prediction), buffers allocated for the largest batch
and reused, so a training step allocates almost nothing, and optional
dropout noise per layer (index 0 is the input layer).

One forward and one backward pass serve every way of dropping units: a
masking strategy (:mod:`skdrop._core.masking`) says which weights a group
of rows computes with and how the gradient flows through the noise.
"""

import numpy as np
import scipy.sparse as sp

from .activations import DERIVATIVES, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .activations import init_bound as _init_bound
from .concrete import INITIAL_RATE, RelaxedBernoulli
from .layout import n_layer_params as _n_layer_params
from .layout import n_weight_entries, parameter_views
from .losses import LOSSES, output_delta
from .masking import GroupMasks, RowMasks
from .noise import NOISE
from .submatrix import rows_of
from .threads import blas_thread_limit, limited_blas_threads

# Prediction works on row chunks whose widest activation takes about this
# many bytes, so memory stays bounded whatever the number of rows.
PREDICT_CHUNK_BYTES = 8 << 20


class Network:
    """A fully connected feed-forward network.

    Parameters
    ----------
    layer_units : list of int
        Units per layer, input and output included.
    activation : str
        Hidden activation, a key of ``HIDDEN_ACTIVATIONS``.
    out_activation : str
        Output activation, a key of ``OUTPUT_ACTIVATIONS``.
    dtype : numpy floating dtype
    coefs, intercepts : lists of arrays, optional
        Use these arrays as the parameters (no copy). Without them, the
        parameters are views into a new flat vector ``params``.
    """

    def __init__(
        self,
        layer_units,
        activation,
        out_activation,
        dtype,
        coefs=None,
        intercepts=None,
    ):
        self.layer_units = list(layer_units)
        self.n_layers = len(self.layer_units)
        self.activation = activation
        self.out_activation = out_activation
        self.dtype = np.dtype(dtype)
        self.dropouts = [None] * (self.n_layers - 1)
        self.learned_rate_layers = []
        self.group_size = None
        # The masks of prediction (none), of Monte Carlo passes (one per
        # row) and of training steps (one per row, or shared by groups).
        self._no_masks = RowMasks(self.dropouts)
        self._row_masks = self._training_masks = self._no_masks
        self._capacity = 0
        if coefs is None:
            self._allocate_params(0)
        else:
            self.params = None
            self.coefs, self.intercepts = list(coefs), list(intercepts)

    # -- parameters -----------------------------------------------------
    def _allocate_params(self, n_noise_params):
        """A flat parameter vector (and gradient): the weight matrices, the
        bias vectors, then ``n_noise_params`` parameters of the noise
        (learned dropout logits). Values already present are kept."""
        units = self.layer_units
        n_layer_params = _n_layer_params(units)
        old = getattr(self, "params", None)
        self.params = np.zeros(n_layer_params + n_noise_params, dtype=self.dtype)
        if old is not None:
            self.params[:n_layer_params] = old[:n_layer_params]
        self.coefs, self.intercepts = parameter_views(self.params, units)
        self.grad = np.zeros_like(self.params)
        self.coef_grads, self.intercept_grads = parameter_views(self.grad, units)
        self.noise_params = self.params[n_layer_params:]
        self.noise_grad = self.grad[n_layer_params:]

    @property
    def n_coef_params(self):
        """Number of entries of the flat vector that are weights (not biases)."""
        return n_weight_entries(self.layer_units)

    def initialize(self, rng):
        """Draw weights and biases uniformly in ``[-bound, bound]``."""
        for W, b in zip(self.coefs, self.intercepts, strict=True):
            bound = _init_bound(self.activation, *W.shape)
            W[...] = rng.uniform(-bound, bound, W.shape)
            b[...] = rng.uniform(-bound, bound, b.shape)

    def load(self, coefs, intercepts):
        """Copy the given weights and biases into this network's parameters."""
        for dst, src in zip(
            self.coefs + self.intercepts, coefs + intercepts, strict=True
        ):
            dst[...] = src

    def set_dropout(self, rates, kind="bernoulli", group_size=None):
        """Configure dropout: ``rates[0]`` for the input, then one per hidden layer.

        A rate of zero means no noise (and no cost) for that layer.
        ``group_size`` None gives every row of a training batch its own
        masks; an int makes consecutive rows share them in groups of that
        many, and ``"batch"`` makes a whole batch share one. Training steps
        with shared masks compute with the kept submatrices only, which
        needs noise of fixed rates that zeroes dropped units (Bernoulli).
        Forward passes outside training (Monte Carlo prediction) keep one
        mask per row.
        """
        self.dropouts = [
            self._noise_of(rate, kind, width)
            for rate, width in zip(rates, self.layer_units[:-1], strict=True)
        ]
        # (layer, noise) of every layer whose rate is learned; read at every
        # training step, so kept rather than searched for.
        self.learned_rate_layers = [
            (i, d)
            for i, d in enumerate(self.dropouts)
            if isinstance(d, RelaxedBernoulli)
        ]
        self.group_size = group_size
        self._row_masks = RowMasks(self.dropouts)
        self._training_masks = self._row_masks
        if group_size is not None and self.has_dropout:
            self._training_masks = GroupMasks(
                self.layer_units, self.dropouts, group_size, self.dtype
            )
        if self.params is not None:
            self._bind_learned_rates()

    def _noise_of(self, rate, kind, width):
        if rate == "auto":
            return RelaxedBernoulli(width, self.dtype)
        return NOISE[kind](rate, width, self.dtype) if rate > 0 else None

    def _bind_learned_rates(self):
        """Give every learned rate its logit in the flat parameter vector."""
        learned = self.learned_rate_layers
        fresh = self.noise_params.size != len(learned)
        if fresh:
            self._allocate_params(len(learned))
        for k, (_, noise) in enumerate(learned):
            noise.bind(self.noise_params[k : k + 1], self.noise_grad[k : k + 1])
            if fresh:
                noise.rate = INITIAL_RATE

    def load_learned_rates(self, rates):
        """Set the learned layers' rates (one per learned layer, in order)."""
        for (_, noise), rate in zip(self.learned_rate_layers, rates, strict=True):
            noise.rate = rate

    def clip_learned_rates(self):
        """Keep every learned rate strictly between 0 and 1."""
        for _, noise in self.learned_rate_layers:
            noise.clip()

    @property
    def dropout_rates(self):
        """The current rate of each layer that can be dropped (0: none)."""
        return [0.0 if d is None else float(d.rate) for d in self.dropouts]

    @property
    def has_dropout(self):
        """Whether any layer is noisy."""
        return any(d is not None for d in self.dropouts)

    def apply_max_norm(self, max_norm):
        """Rescale each hidden unit's incoming weight vector to norm <= max_norm."""
        for W in self.coefs[:-1]:
            norms = np.sqrt(np.einsum("ij,ij->j", W, W))
            too_long = norms > max_norm
            if too_long.any():
                W[:, too_long] *= (max_norm / norms[too_long]).astype(W.dtype)

    # -- buffers --------------------------------------------------------
    def _ensure_capacity(self, n_rows):
        """Buffers of the passes for batches of up to ``n_rows`` rows, flat
        so that a group of rows sees a C-contiguous block of any width."""
        if n_rows <= self._capacity:
            return
        widths = self.layer_units
        self._activations = [None] + [
            np.empty(n_rows * w, dtype=self.dtype) for w in widths[1:-1]
        ]
        self._output = np.empty((n_rows, widths[-1]), dtype=self.dtype)
        # Boolean scratch for the activations that need one (SELU), shared
        # by all hidden layers.
        self._bool_scratch = np.empty(n_rows * max(widths[1:]), dtype=bool)
        # Each layer's clean activation and the (noisy) input of each
        # weight matrix in the last forward pass.
        self._clean = [None] * (self.n_layers - 1)
        self._inputs = [None] * (self.n_layers - 1)
        # Gradient buffers are only needed for training: made by backward.
        self._deltas = None
        self._capacity = n_rows

    def _ensure_deltas(self):
        if self._deltas is None:
            self._deltas = [
                np.empty(self._capacity * w, dtype=self.dtype)
                for w in self.layer_units[1:]
            ]

    def _bool_like(self, A):
        """A boolean scratch array of the shape of ``A`` (contents undefined)."""
        return self._bool_scratch[: A.size].reshape(A.shape)

    # -- passes ---------------------------------------------------------
    def forward(self, X, rng=None, output_activation=True):
        """Output of the network for ``X``; with ``rng``, dropout is on, one
        mask per row.

        With ``output_activation=False`` the output layer's pre-activation
        (the logits) is returned. The returned array is an internal buffer,
        overwritten by the next call: copy it to keep it.
        """
        n_rows = X.shape[0]
        self._ensure_capacity(n_rows)
        masks = self._no_masks if rng is None else self._row_masks
        masks.draw(rng, n_rows)
        weights, biases, output = self.coefs, self.intercepts, self._output[:n_rows]
        return self._forward_rows(X, masks, weights, biases, output, output_activation)

    def train_step_gradient(self, X, y, sample_weight, loss_name, rng):
        """Forward (noisy with ``rng``), loss and backward on one batch.

        Returns the loss (without the L2 penalty) and the batch's total
        sample weight.
        """
        masks = self._no_masks if rng is None else self._training_masks
        masks.draw(rng, X.shape[0])
        return self.loss_and_gradient(X, y, sample_weight, loss_name, masks)

    def loss_and_gradient(self, X, y, sample_weight, loss_name, masks):
        """Loss and gradient of one batch with the masks ``masks`` has drawn.

        Each group of rows that shares masks runs the forward and the
        backward pass; the gradient of the batch's mean loss goes to
        ``grad`` (:class:`skdrop._core.penalty.L2Penalty` adds the L2
        term's). Returns the loss (without the L2 penalty) and the batch's
        total sample weight. The hidden activations serve as scratch space
        for their derivatives: afterwards only the output is still valid.
        """
        n_rows = X.shape[0]
        self._ensure_capacity(n_rows)
        self._ensure_deltas()
        masks.start_gradient(self.grad, self.noise_grad)
        weight_sum = _total_weight(n_rows, sample_weight)
        output = self._output[:n_rows]
        for group, (start, stop) in enumerate(masks.groups(n_rows)):
            rows = slice(start, stop)
            whole = stop - start == n_rows
            # A sparse row slice copies: the batch itself when it is one group.
            X_rows = X if whole else X[rows]
            weights, biases = masks.enter(group, self.coefs, self.intercepts)
            self._forward_rows(X_rows, masks, weights, biases, output[rows])
            sw_rows = None if sample_weight is None else sample_weight[rows]
            delta = self._output_delta(
                loss_name, output[rows], y[rows], sw_rows, weight_sum
            )
            self._backward_rows(delta, masks, weights)
        return LOSSES[loss_name](y, output, sample_weight), weight_sum

    def _forward_rows(self, X, masks, weights, biases, output, output_activation=True):
        """Forward pass of rows that share ``masks``' group, with the
        weights and biases that group computes with; fills ``output``."""
        n_rows = X.shape[0]
        hidden = HIDDEN_ACTIVATIONS[self.activation]
        self._clean[0] = X
        A = masks.noisy_input(X)
        last = self.n_layers - 2
        for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
            self._inputs[i] = A
            Z = (
                output
                if i == last
                else rows_of(self._activations[i + 1], n_rows, W.shape[1])
            )
            _matmul_into(A, W, Z)
            if masks.scales[i] is not None:
                Z *= masks.scales[i]
            Z += b
            if i == last:
                if output_activation:
                    OUTPUT_ACTIVATIONS[self.out_activation](Z)
                return Z
            hidden(Z, self._bool_like(Z))
            self._clean[i + 1] = Z
            A = masks.noisy_hidden(i + 1, Z)
        raise AssertionError("unreachable: the output layer returns")

    def _output_delta(self, loss_name, output, y, sample_weight, weight_sum):
        delta = rows_of(self._deltas[-1], *output.shape)
        return output_delta(
            LOSSES[loss_name], output, y, sample_weight, weight_sum, delta
        )

    def _backward_rows(self, delta, masks, weights):
        """Backward pass of the rows of the last :meth:`_forward_rows`, from
        ``delta`` at the output; the parameter gradients go where ``masks``
        says (written, or added for a group)."""
        derivative = DERIVATIVES[self.activation]
        for i in range(self.n_layers - 2, -1, -1):
            bias_grad = masks.bias_gradient_out(
                i, self.intercept_grads[i], delta.shape[1]
            )
            np.sum(delta, axis=0, out=bias_grad)
            masks.add_bias_gradient(i, self.intercept_grads[i], bias_grad)
            if masks.scales[i] is not None:
                delta *= masks.scales[i]
            W = weights[i]
            weight_grad = masks.weight_gradient_out(i, self.coef_grads[i], W.shape)
            _matmul_transposed_a_into(self._inputs[i], delta, weight_grad)
            masks.add_weight_gradient(i, self.coef_grads[i], weight_grad)
            if i == 0:
                break
            below = rows_of(self._deltas[i - 1], delta.shape[0], W.shape[0])
            _matmul_into(delta, W.T, below)
            masks.through_noise(i, self._clean[i], below)
            derivative(self._clean[i], below, self._bool_like(below))
            delta = below
        masks.finish_backward(delta, weights[0], self._clean[0])

    def predict(self, X, rng=None, out=None, output_activation=True):
        """Output for every row of ``X``, computed in bounded-memory chunks."""
        n_rows = X.shape[0]
        if out is None:
            out = np.empty((n_rows, self.layer_units[-1]), dtype=self.dtype)
        chunk = self.predict_chunk_rows()
        with limited_blas_threads(
            blas_thread_limit(self.layer_units, min(chunk, n_rows))
        ):
            for start in range(0, n_rows, chunk):
                stop = min(start + chunk, n_rows)
                out[start:stop] = self.forward(X[start:stop], rng, output_activation)
        return out

    def predict_chunk_rows(self):
        """Rows per prediction chunk, from the widest layer and the dtype."""
        widest = max(self.layer_units)
        return max(1, PREDICT_CHUNK_BYTES // (widest * self.dtype.itemsize))


def _total_weight(n_rows, sample_weight):
    return n_rows if sample_weight is None else float(np.sum(sample_weight))


def _matmul_into(A, W, out):
    """``A @ W`` into ``out``; ``A`` dense or sparse."""
    if sp.issparse(A):
        out[...] = A @ W
    else:
        np.matmul(A, W, out=out)


def _matmul_transposed_a_into(A, delta, out):
    """``A.T @ delta`` into ``out``; ``A`` dense or sparse."""
    if sp.issparse(A):
        out[...] = A.T @ delta
    else:
        np.matmul(A.T, delta, out=out)
