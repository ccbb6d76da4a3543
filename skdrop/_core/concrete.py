"""Learned dropout rates: Concrete dropout (Gal, Hron & Kendall, 2017).

A layer whose rate is ``'auto'`` trains its drop probability ``p`` with the
weights. The Bernoulli mask has no gradient with respect to ``p``, so
training draws a relaxed mask instead: with ``u`` uniform on (0, 1) and a
temperature ``t``, the relaxed drop indicator

    z = sigmoid((logit(p) + log(u) - log(1 - u)) / t)

is close to 0 or 1 for a small ``t`` and differentiable in ``p``. The noisy
activation is ``h * (1 - z) / (1 - p)`` (inverted dropout, as for a fixed
rate). The rate is parametrised by its logit ``theta``, stored divided by
``LOGIT_SCALE`` as one entry of the network's flat parameter vector, so the
optimiser, persistence and warm starts treat it as any other parameter.

The objective adds the paper's regulariser for each learned layer with ``K``
input units and the weight matrix ``W`` that follows it,

    weight_term * ||W||^2 / (1 - p)  +  rate_term * K * (p log p + (1-p) log(1-p)),

with ``weight_term = length_scale**2 / N`` and ``rate_term = 2 / N`` for
``N`` training rows, as in the reference implementation (prior length scale
``1e-4``). The second term (a negative entropy) pulls ``p`` towards one
half, more strongly the fewer rows there are; the data pull ``p`` down as far
as they can be fitted without noise. Both are terms of a negative
log-likelihood per row, so a loss in other units (the squared error of a
target with noise variance ``sigma^2``) multiplies them by ``sigma^2``: see
:func:`likelihood_scale`.

This module knows nothing of estimators.
"""

import math

import numpy as np

from .losses import LOSSES
from .noise import MASK_CHUNK, RATE_RESOLUTION, Noise

# Temperature of the relaxed mask (the paper's 0.1): small enough that the
# relaxed mask is nearly binary, large enough for useful gradients.
TEMPERATURE = 0.1
# Rate at which a learned layer starts (the reference code's 0.1).
INITIAL_RATE = 0.1
# Prior length scale of the weight term (the reference code's 1e-4).
LENGTH_SCALE = 1e-4
# Learned rates stay inside [MIN_RATE, 1 - MIN_RATE]: the logit is clipped,
# so that 1 / (1 - p) and log(p) stay finite.
MIN_RATE = 1e-6
MAX_LOGIT = math.log((1.0 - MIN_RATE) / MIN_RATE)
# The stored parameter is theta / LOGIT_SCALE. Adam moves every parameter by
# about the learning rate per step; the logit moves LOGIT_SCALE times as
# fast, so a rate can follow the weights: from 0.1 to 0.5 takes about 220
# steps at the default learning rate instead of 2,200.
LOGIT_SCALE = 10.0


def logit(rate):
    """The log-odds of a probability in (0, 1)."""
    return math.log(rate) - math.log1p(-rate)


def sigmoid(value):
    """The logistic function of a Python float, without overflow."""
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    e = math.exp(value)
    return e / (1.0 + e)


def _odds_power_table(dtype):
    """``((1 - u) / u) ** (1 / t)`` at the midpoints ``u`` of the 65536 levels
    of a 16-bit uniform: ``exp(-logistic noise / t)``. Beyond the dtype's
    range the entries are infinite (the relaxed mask is then exactly 0)."""
    u = (np.arange(RATE_RESOLUTION) + 0.5) / RATE_RESOLUTION
    with np.errstate(over="ignore"):
        return (((1.0 - u) / u) ** (1.0 / TEMPERATURE)).astype(dtype)


_ODDS_POWER_TABLE = {
    np.dtype(dtype).char: _odds_power_table(dtype) for dtype in (np.float32, np.float64)
}
# exp(-theta / t) is capped so that it times the smallest table entry stays
# finite in float32 (no inf * 0).
_LARGEST_FACTOR = 1e30


def draw_from_table(rng, table, out):
    """Fill ``out`` with entries of ``table`` at uniform random 16-bit indices,
    drawn as raw generator words in cache-sized chunks."""
    flat = out.reshape(-1)
    for start in range(0, flat.size, MASK_CHUNK):
        chunk = flat[start : start + MASK_CHUNK]
        words = rng.bit_generator.random_raw((chunk.size + 3) // 4)
        np.take(table, words.view(np.uint16)[: chunk.size], out=chunk)


class RelaxedBernoulli(Noise):
    """Dropout with a learned rate, trained through a relaxed Bernoulli mask.

    The layer's logit lives in the network's parameter vector: :meth:`bind`
    hands this object its one-element views of the parameters and of their
    gradient. Besides the multiplicative noise, :meth:`sample` keeps the
    derivative of that noise with respect to the logit, which
    :meth:`add_rate_gradient` contracts with the backward pass.
    """

    def __init__(self, width, dtype):
        super().__init__(INITIAL_RATE, width, dtype)
        self.param = np.array([logit(INITIAL_RATE) / LOGIT_SCALE])
        self.param_grad = np.zeros(1)

    def bind(self, param, param_grad):
        """Use ``param`` and ``param_grad`` (views of the network's vectors)."""
        self.param, self.param_grad = param, param_grad

    @property
    def logit(self):
        """The logit ``theta`` of the drop probability."""
        return float(self.param[0]) * LOGIT_SCALE

    @logit.setter
    def logit(self, value):
        self.param[0] = value / LOGIT_SCALE

    def add_logit_gradient(self, value):
        """Add the derivative ``value`` with respect to ``theta``."""
        self.param_grad[0] += value * LOGIT_SCALE

    @property
    def rate(self):
        """The current drop probability ``sigmoid(theta)``."""
        return sigmoid(self.logit)

    @rate.setter
    def rate(self, value):
        # Noise.__init__ sets the initial rate; the logit is the state.
        if hasattr(self, "param"):
            self.logit = logit(min(max(value, MIN_RATE), 1.0 - MIN_RATE))

    def clip(self):
        """Keep the logit within the range of representable rates."""
        bound = MAX_LOGIT / LOGIT_SCALE
        np.clip(self.param, -bound, bound, out=self.param)

    def _allocate(self, n_rows):
        super()._allocate(n_rows)
        self._dmult = np.empty((n_rows, self.width), dtype=self.dtype)
        self._scratch = np.empty((n_rows, self.width), dtype=self.dtype)

    def sample(self, rng, n_rows):
        self._ensure_capacity(n_rows)
        z, dmult = self._mult[:n_rows], self._dmult[:n_rows]
        p = self.rate
        # z = 1 / (1 + exp(-theta / t) * exp(-logistic(u) / t)); the second
        # factor comes from a table indexed by 16 random bits, so a draw
        # costs a gather, a multiply, an add and a reciprocal.
        draw_from_table(rng, _ODDS_POWER_TABLE[self.dtype.char], z)
        z *= min(math.exp(-self.logit / TEMPERATURE), _LARGEST_FACTOR)
        z += 1.0
        np.reciprocal(z, out=z)
        # With m = (1 - z) / (1 - p):  dm/dtheta = m * (p - z / t).
        np.multiply(z, -1.0 / TEMPERATURE, out=dmult)
        dmult += p
        np.subtract(1.0, z, out=z)
        z *= 1.0 / (1.0 - p)
        dmult *= z

    def add_rate_gradient(self, clean, upstream):
        """Add ``sum(upstream * clean * dm/dtheta)`` to the logit's gradient.

        ``clean`` is the layer's activation before the noise (dense or
        sparse) and ``upstream`` the gradient with respect to the noisy
        activation, both of the last batch.
        """
        n_rows = upstream.shape[0]
        scratch = self._scratch[:n_rows]
        np.multiply(upstream, self._dmult[:n_rows], out=scratch)
        if hasattr(clean, "multiply"):  # sparse input rows
            self.add_logit_gradient(float(clean.multiply(scratch).sum()))
        else:
            self.add_logit_gradient(float(np.vdot(scratch, clean)))


def rate_regulariser(layer, weights, n_rows, scale):
    """Add the regulariser's gradient to ``layer``'s logit; return its value.

    ``weights`` is the matrix fed by the layer's units, ``n_rows`` the
    number of training rows ``N`` and ``scale`` the unit of the loss
    (:func:`likelihood_scale`).
    """
    p = layer.rate
    squared_norm = float(np.vdot(weights, weights))
    weight_term = LENGTH_SCALE**2 / n_rows * scale
    rate_term = 2.0 / n_rows * layer.width * scale
    negative_entropy = p * math.log(p) + (1.0 - p) * math.log1p(-p)
    value = weight_term * squared_norm / (1.0 - p) + rate_term * negative_entropy
    # d/dtheta, with dp/dtheta = p (1 - p) and d(negentropy)/dp = logit(p).
    layer.add_logit_gradient(
        weight_term * squared_norm * p / (1.0 - p)
        + rate_term * layer.logit * p * (1.0 - p)
    )
    return value


class RatePrior:
    """The regulariser of every learned rate of a network, during training.

    Parameters
    ----------
    n_rows : int
        Training rows ``N`` that the regulariser's weights are derived from.
    loss_name : str
        The training loss, which sets the regulariser's unit.
    n_outputs : int
        Outputs of the network (the squared error is summed over them).
    """

    # Weight of the newest batch in the running mean squared residual.
    RESIDUAL_SMOOTHING = 0.05

    def __init__(self, n_rows, loss_name, n_outputs):
        self.n_rows = n_rows
        self.loss_name = loss_name
        self.n_outputs = n_outputs
        self.mean_squared_residual = None
        self.held_out_squared_residual = None

    def add_gradient(self, network, data_loss):
        """Add the regulariser's gradient to ``network``'s logits after a
        backward pass whose loss (half the squared error summed over outputs,
        for the squared error) was ``data_loss``; return the value."""
        residual = 2.0 * data_loss / self.n_outputs
        if self.mean_squared_residual is None:
            self.mean_squared_residual = residual
        else:
            self.mean_squared_residual += self.RESIDUAL_SMOOTHING * (
                residual - self.mean_squared_residual
            )
        noise_variance = self.held_out_squared_residual
        if noise_variance is None:
            noise_variance = self.mean_squared_residual
        scale = likelihood_scale(self.loss_name, noise_variance)
        return sum(
            rate_regulariser(noise, network.coefs[layer], self.n_rows, scale)
            for layer, noise in network.learned_rate_layers
        )


def mean_squared_residual(y, output, sample_weight=None):
    """Mean over rows and outputs of the squared residual ``y - output``."""
    residual = y - output
    per_row = np.einsum("ij,ij->i", residual, residual) / y.shape[1]
    return float(np.average(per_row, weights=sample_weight))


def likelihood_scale(loss_name, mean_squared_residual):
    """The unit that turns the regulariser into the loss's units.

    Log losses are negative log-likelihoods already (scale 1). Half the
    squared error is the Gaussian negative log-likelihood times the noise
    variance, estimated by the mean squared residual: of the held-out rows
    when there are some (the training rows' residual shrinks as the network
    fits them, which would weaken the regulariser just when it is needed),
    else of the noisy training passes.
    """
    if LOSSES[loss_name].scaled_by_noise_variance:
        return mean_squared_residual
    return 1.0
