"""The multilayer perceptron itself: weights, forward and backward passes.

This module knows nothing of estimators. A :class:`Network` owns

* its parameters, either one flat vector with every weight matrix and bias
  vector a view into it (training: the optimiser updates the whole model in
  a few BLAS calls) or the arrays it was given (prediction);
* per-layer buffers for activations and gradients, allocated for the largest
  batch and reused through row slices, so a training step allocates almost
  nothing;
* optional dropout noise per layer (index 0 is the input layer), with
  either one mask per row or, when rows share masks in groups, training
  steps on the kept submatrices only (:mod:`skdrop._core.submatrix`).
"""

import itertools

import numpy as np
import scipy.sparse as sp

from .activations import DERIVATIVES, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .activations import init_bound as _init_bound
from .concrete import INITIAL_RATE, RelaxedBernoulli
from .losses import LOSSES, output_delta
from .noise import NOISE
from .submatrix import (
    SubmatrixStep,
    matmul_into,
    matmul_transposed_a_into,
    parameter_views,
)
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
        self._rates = None
        self._grouped_step = None
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
        n_layer_params = self._n_params()
        old = getattr(self, "params", None)
        self.params = np.zeros(n_layer_params + n_noise_params, dtype=self.dtype)
        if old is not None:
            self.params[:n_layer_params] = old[:n_layer_params]
        self.coefs, self.intercepts = parameter_views(self.params, units)
        self.grad = np.zeros_like(self.params)
        self.coef_grads, self.intercept_grads = parameter_views(self.grad, units)
        self.noise_params = self.params[n_layer_params:]
        self.noise_grad = self.grad[n_layer_params:]

    def _n_params(self):
        units = self.layer_units
        return sum((a + 1) * b for a, b in itertools.pairwise(units))

    @property
    def n_coef_params(self):
        """Number of entries of the flat vector that are weights (not biases)."""
        units = self.layer_units
        return sum(a * b for a, b in itertools.pairwise(units))

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
        needs noise that zeroes dropped units (Bernoulli). Forward passes
        outside training (Monte Carlo prediction) keep one mask per row.
        """
        learned = [rate == "auto" for rate in rates]
        if group_size is not None and (
            any(learned) or not NOISE[kind].zeroes_dropped_units
        ):
            raise ValueError(
                f"Rows can share dropout masks only with noise of fixed rates "
                f"that zeroes the dropped units; {kind!r} noise with rates "
                f"{list(rates)} does not."
            )
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
        self._rates = [None if rate == "auto" else float(rate) for rate in rates]
        self._grouped_step = None
        self._capacity = 0
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
        """Buffers of the forward pass for batches of up to ``n_rows`` rows."""
        if n_rows <= self._capacity:
            return
        widths = self.layer_units
        self._activations = [None] + [
            np.empty((n_rows, w), dtype=self.dtype) for w in widths[1:]
        ]
        # Noisy copies of the layers that have dropout: the clean activation
        # stays available for the derivative of the activation function.
        self._noisy = [
            np.empty((n_rows, w), dtype=self.dtype) if d is not None else None
            for d, w in zip(self.dropouts, widths[:-1], strict=True)
        ]
        # Boolean scratch for the activations that need one (SELU), shared
        # by all hidden layers: one flat buffer, reshaped per layer.
        self._mask = np.empty(n_rows * max(widths[1:]), dtype=bool)
        self._inputs = [None] * (self.n_layers - 1)
        # Gradient buffers are only needed for training: made by backward.
        self._deltas = None
        self._input_deltas = None
        self._capacity = n_rows

    def _ensure_deltas(self):
        if self._deltas is None:
            self._deltas = [
                np.empty((self._capacity, w), dtype=self.dtype)
                for w in self.layer_units[1:]
            ]

    def _mask_like(self, A):
        """A boolean scratch array of the shape of ``A`` (contents undefined)."""
        return self._mask[: A.size].reshape(A.shape)

    # -- passes ---------------------------------------------------------
    def forward(self, X, rng=None, output_activation=True):
        """Output of the network for ``X``; with ``rng``, dropout is on.

        With ``output_activation=False`` the output layer's pre-activation
        (the logits) is returned. The returned array is an internal buffer,
        overwritten by the next call: copy it to keep it.
        """
        n_rows = X.shape[0]
        self._ensure_capacity(n_rows)
        hidden = HIDDEN_ACTIVATIONS[self.activation]
        self._clean_input = X
        A = self._noisy_input(X, rng)
        last = self.n_layers - 2
        for i in range(self.n_layers - 1):
            self._inputs[i] = A
            Z = self._activations[i + 1][:n_rows]
            matmul_into(A, self.coefs[i], out=Z)
            Z += self.intercepts[i]
            if i == last:
                if output_activation:
                    OUTPUT_ACTIVATIONS[self.out_activation](Z)
                return Z
            hidden(Z, self._mask_like(Z))
            A = self._noisy_hidden(i + 1, Z, rng)
        raise AssertionError("unreachable: the output layer returns")

    def _noisy_input(self, X, rng):
        dropout = self.dropouts[0]
        if rng is None or dropout is None:
            return X
        dropout.sample(rng, X.shape[0])
        if sp.issparse(X):
            return dropout.apply_sparse(X)
        return dropout.apply(X, self._noisy[0][: X.shape[0]])

    def _noisy_hidden(self, layer, H, rng):
        dropout = self.dropouts[layer]
        if rng is None or dropout is None:
            return H
        dropout.sample(rng, H.shape[0])
        return dropout.apply(H, self._noisy[layer][: H.shape[0]])

    def backward(self, y, sample_weight, dropout_on, loss_name):
        """Gradient of the mean loss ``loss_name``, after :meth:`forward`.

        Fills ``coef_grads`` and ``intercept_grads`` (views of ``grad``) and
        returns the batch's total sample weight. The L2 penalty is not part
        of it: :class:`skdrop._core.penalty.L2Penalty` adds its gradient.

        The gradient at the output pre-activation is the loss's own
        (:func:`skdrop._core.losses.output_delta`). The hidden activations
        serve as scratch space for their derivatives, so after this call only
        the output of the forward pass is still valid.
        """
        n_rows = y.shape[0]
        self._ensure_deltas()
        self.noise_grad[...] = 0.0
        last = self.n_layers - 2
        weight_sum = n_rows if sample_weight is None else float(np.sum(sample_weight))
        output_delta(
            LOSSES[loss_name],
            self._activations[-1][:n_rows],
            y,
            sample_weight,
            weight_sum,
            self._deltas[last][:n_rows],
        )
        derivative = DERIVATIVES[self.activation]
        for i in range(last, -1, -1):
            delta = self._deltas[i][:n_rows]
            matmul_transposed_a_into(self._inputs[i], delta, out=self.coef_grads[i])
            np.sum(delta, axis=0, out=self.intercept_grads[i])
            if i == 0:
                break
            below = self._deltas[i - 1][:n_rows]
            np.matmul(delta, self.coefs[i].T, out=below)
            if dropout_on and self.dropouts[i] is not None:
                self._add_learned_rate_gradient(i, self._activations[i][:n_rows], below)
                self.dropouts[i].backward(below)
            derivative(self._activations[i][:n_rows], below, self._mask_like(below))
        if dropout_on and isinstance(self.dropouts[0], RelaxedBernoulli):
            # Only a learned input rate needs the gradient at the input.
            upstream = self._input_delta(n_rows)
            np.matmul(self._deltas[0][:n_rows], self.coefs[0].T, out=upstream)
            self.dropouts[0].add_rate_gradient(self._clean_input, upstream)
        return weight_sum

    def _add_learned_rate_gradient(self, layer, clean, upstream):
        dropout = self.dropouts[layer]
        if isinstance(dropout, RelaxedBernoulli):
            dropout.add_rate_gradient(clean, upstream)

    def _input_delta(self, n_rows):
        buffer = getattr(self, "_input_deltas", None)
        if buffer is None or buffer.shape[0] < n_rows:
            buffer = np.empty((self._capacity, self.layer_units[0]), self.dtype)
            self._input_deltas = buffer
        return buffer[:n_rows]

    def loss(self, loss_name, y, sample_weight):
        """Loss of the last forward pass (without the L2 penalty)."""
        output = self._activations[-1][: y.shape[0]]
        return LOSSES[loss_name](y, output, sample_weight)

    def train_step_gradient(self, X, y, sample_weight, loss_name, rng):
        """Forward (noisy with ``rng``), loss and backward on one batch.

        Returns the loss (without the L2 penalty) and the batch's total
        sample weight.
        """
        if rng is not None and self.group_size is not None and self.has_dropout:
            step = self._step_with_shared_masks(loss_name, X.shape[0])
            return step.train_step_gradient(
                self.params, self.grad, X, y, sample_weight, rng
            )
        self.forward(X, rng)
        weight_sum = self.backward(y, sample_weight, rng is not None, loss_name)
        return self.loss(loss_name, y, sample_weight), weight_sum

    def _step_with_shared_masks(self, loss_name, n_rows):
        """The submatrix step, built at the first training step (its buffers
        are sized for that batch, and grow if a larger one comes)."""
        step = self._grouped_step
        if step is None or step.loss_name != loss_name:
            step = self._grouped_step = SubmatrixStep(
                self.layer_units,
                self.activation,
                self.out_activation,
                loss_name,
                self.dtype,
                self._rates,
                # The step's None is one mask per batch.
                None if self.group_size == "batch" else self.group_size,
                n_rows,
            )
        return step

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
