"""Training pieces that are pure NumPy: batches, steps, stopping, L-BFGS.

The epoch loop (:mod:`skdrop._core.epochs`) strings the pieces of the
stochastic solvers together; nothing here knows of estimators.
"""

import math

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from .losses import LOSSES


class NonFiniteTrainingError(ValueError):
    """Training produced a non-finite loss or non-finite weights."""


class EpochBatches:
    """Mini-batches of (X, y, sample_weight), reshuffled every epoch.

    With shuffling, the rows of each dense batch are gathered into reused
    batch-sized buffers: no per-batch allocation, and no shuffled copy of the
    whole data set. A yielded batch is valid until the next one is drawn.
    """

    def __init__(self, X, y, sample_weight, batch_size, shuffle):
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.n_samples = X.shape[0]
        self._buffers = None

    def epoch(self, rng):
        """Yield the batches of one epoch, shuffled by ``rng``."""
        order = rng.permutation(self.n_samples) if self.shuffle else None
        for start in range(0, self.n_samples, self.batch_size):
            stop = min(start + self.batch_size, self.n_samples)
            if order is None:
                yield self._rows(slice(start, stop))
            else:
                yield self._gathered(order[start:stop])

    def _rows(self, rows):
        sw = self.sample_weight
        return self.X[rows], self.y[rows], None if sw is None else sw[rows]

    def _gathered(self, index):
        if sp.issparse(self.X):
            return self._rows(index)
        if self._buffers is None:
            self._buffers = [
                None
                if a is None
                else np.empty((self.batch_size, *a.shape[1:]), a.dtype)
                for a in (self.X, self.y, self.sample_weight)
            ]
        # mode="clip": with the default mode="raise", take copies through a
        # hidden temporary; the indices are a permutation, never out of range.
        return tuple(
            None
            if a is None
            else np.take(a, index, axis=0, out=buffer[: len(index)], mode="clip")
            for a, buffer in zip(
                (self.X, self.y, self.sample_weight), self._buffers, strict=True
            )
        )


def train_on_batch(
    network, optimizer, loss_name, penalty, X, y, sample_weight, rng, rate_prior=None
):
    """One optimiser step on a batch; return the batch's loss with penalty.

    ``rng`` draws the dropout masks (``None``: no dropout); ``rate_prior``
    (:class:`skdrop._core.concrete.RatePrior`) regularises learned rates. The
    optimiser adds the L2 penalty's gradient block by block as it updates,
    in cache, rather than in passes of its own over the weights.
    """
    loss, weight_sum = network.train_step_gradient(X, y, sample_weight, loss_name, rng)
    if rate_prior is not None:
        loss += rate_prior.add_gradient(network, loss)
    strength = penalty.strength(weight_sum)
    loss += optimizer.step(network.params, network.grad, penalty, strength)
    if rate_prior is not None:
        network.clip_learned_rates()
    if not math.isfinite(loss):
        raise NonFiniteTrainingError(f"the loss became {loss}")
    return loss


class DropoutFreeLoss:
    """The training objective of the whole network, dropout off, on a fixed
    sample of the training rows: the quantity the stopping rule reads when
    dropout makes the loss of the training steps noisy.

    Every ``SAMPLE_EVERY``-th row is kept, at most ``MAX_SAMPLE_ROWS`` rows
    spread evenly over the data (no random draw, so the stream of masks is
    that of a fit without the monitor). A forward pass over a quarter of the
    rows costs about a twelfth of an epoch, which takes a forward and a
    backward pass over all of them; the cap keeps it to a few percent of the
    cheaper epochs of grouped masks on large data.

    Parameters
    ----------
    X, y, sample_weight : arrays
        The training rows (``y`` encoded, 2-D).
    loss_name : str
    penalty : L2Penalty
    rows_per_batch : int
        The L2 term is that of a training batch, as in ``loss_curve_``.
    """

    SAMPLE_EVERY = 4
    # Below this many rows, every row is in the sample.
    MIN_SAMPLE_ROWS = 64
    # A fixed sample of this many rows measures a mean loss to well under a
    # percent of its spread between epochs; more rows only cost time.
    MAX_SAMPLE_ROWS = 2_000

    def __init__(self, X, y, sample_weight, loss_name, penalty, rows_per_batch):
        rows = slice(None)
        if X.shape[0] >= self.MIN_SAMPLE_ROWS * self.SAMPLE_EVERY:
            step = max(self.SAMPLE_EVERY, -(-X.shape[0] // self.MAX_SAMPLE_ROWS))
            rows = slice(None, None, step)
        if sample_weight is not None and not sample_weight[rows].any():
            rows = slice(None)
        self.X = X[rows] if sp.issparse(X) else np.ascontiguousarray(X[rows])
        self.y = np.ascontiguousarray(y[rows])
        self.sample_weight = None if sample_weight is None else sample_weight[rows]
        self.loss = LOSSES[loss_name]
        self.penalty = penalty
        self.rows_per_batch = rows_per_batch
        self._output = None

    def __call__(self, network):
        """The sample's mean loss plus the L2 term of a batch."""
        if self._output is None:  # one buffer for every epoch's pass
            shape = (self.X.shape[0], network.layer_units[-1])
            self._output = np.empty(shape, dtype=network.dtype)
        output = network.predict(self.X, out=self._output)
        loss = self.loss(self.y, output, self.sample_weight)
        weights = network.params[: self.penalty.n_weights]
        strength = self.penalty.strength(self.rows_per_batch)
        return loss + 0.5 * strength * float(np.dot(weights, weights))


class NoImprovementTracker:
    """Counts epochs in a row without an improvement of at least ``tol``.

    Follows scikit-learn's rule: a score (higher is better) must beat the
    best so far by ``tol``; a loss (lower is better) must be ``tol`` below
    the best loss. The best value is kept either way.

    Parameters
    ----------
    tol : float
    best : float
        Best value so far (``-inf`` or ``inf`` before the first epoch).
    count : int
        Epochs without improvement so far.
    higher_is_better : bool
    """

    def __init__(self, tol, best, count, higher_is_better):
        self.tol = tol
        self.best = best
        self.count = count
        self.higher_is_better = higher_is_better

    def record(self, value):
        """Record an epoch's value; return whether it is the best so far."""
        sign = 1.0 if self.higher_is_better else -1.0
        if sign * value < sign * self.best + self.tol:
            self.count += 1
        else:
            self.count = 0
        improved = sign * value > sign * self.best
        if improved:
            self.best = value
        return improved


class SelectionOptimism:
    """How much choosing the epoch on the held-out rows flatters their error.

    Early stopping keeps the epoch whose weights fit the held-out rows best,
    so those rows' residuals at that epoch understate the error on new
    rows, more so the fewer rows there are and the longer the noisy
    validation curve. The rows are split into two fixed halves; besides the
    epoch chosen on all rows, this follows the epoch each half alone would
    choose (lowest mean squared residual) and measures it on the other half,
    whose rows took no part in that choice: a cross-fitted estimate. The
    ratio of the cross-fitted squared residuals to those of the chosen epoch
    estimates the optimism, and is at least 1 in expectation.

    Parameters
    ----------
    y : ndarray of shape (n_rows, n_outputs)
        The held-out targets.
    sample_weight : ndarray of shape (n_rows,) or None
    """

    def __init__(self, y, sample_weight):
        self.y = y
        n_rows = y.shape[0]
        if sample_weight is None:
            weights = np.ones(n_rows)
        else:  # relative to the largest: tiny weights do not underflow
            weights = sample_weight / np.max(sample_weight)
        halves = np.arange(n_rows) % 2
        self.weights = [np.where(halves == h, weights, 0.0) for h in (0, 1)]
        # Per half: best own error so far, the other half's error then, and
        # both halves' errors at the epoch chosen on all rows.
        self.best_own = [np.inf, np.inf]
        self.other_at_best_own = [np.nan, np.nan]
        self.at_chosen = [np.nan, np.nan]

    def record(self, output, chosen):
        """Record an epoch's held-out ``output``; ``chosen`` is whether the
        epoch is the best on all rows so far."""
        per_row = np.mean((self.y - output) ** 2, axis=1)
        errors = [float(np.dot(w, per_row)) for w in self.weights]
        for h in (0, 1):
            if errors[h] < self.best_own[h]:
                self.best_own[h] = errors[h]
                self.other_at_best_own[h] = errors[1 - h]
        if chosen:
            self.at_chosen = errors

    def factor(self):
        """Cross-fitted over chosen-epoch squared residuals (1 if unknown)."""
        chosen = sum(self.at_chosen)
        crossed = sum(self.other_at_best_own)
        if not (np.isfinite(chosen) and np.isfinite(crossed)) or chosen <= 0:
            return 1.0
        return crossed / chosen


def minimize_lbfgs(network, X, y, sample_weight, loss_name, penalty, options):
    """Fit ``network`` with SciPy's L-BFGS-B on the full batch.

    The objective is the loss ``loss_name`` plus the L2 ``penalty``
    (:class:`skdrop._core.penalty.L2Penalty`); ``options`` go to
    ``scipy.optimize.minimize``. The optimisation runs in float64 whatever
    the network's dtype. Returns SciPy's result, with the network's
    parameters set to its solution.
    """
    scratch = np.empty(penalty.n_weights, dtype=network.dtype)

    def loss_and_gradient(packed):
        network.params[...] = packed
        loss, weight_sum = network.train_step_gradient(
            X, y, sample_weight, loss_name, None
        )
        strength = penalty.strength(weight_sum)
        loss += penalty.add_gradient(network.params, network.grad, strength, scratch)
        return loss, network.grad.astype(np.float64)

    result = scipy.optimize.minimize(
        loss_and_gradient,
        network.params.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        options=options,
    )
    network.params[...] = result.x
    if not math.isfinite(result.fun):
        raise NonFiniteTrainingError(f"the loss became {result.fun}")
    return result
