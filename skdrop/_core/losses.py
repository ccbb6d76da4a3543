"""Loss functions of the network's output.

Every loss is paired with the output activation that makes it a canonical
link (softmax with log loss, logistic with binary log loss, identity with the
squared error, exp with the Poisson deviance), so that the gradient with
respect to the output pre-activation is simply ``prediction - y``.

Convention: the loss is the (sample-weighted) *mean over samples* of the
*sum over outputs*. With this convention the gradient ``(prediction - y) / n``
is exactly the derivative of the loss, also for several outputs.
"""

import numpy as np
from scipy.special import xlogy


def _weighted_mean(per_sample, sample_weight):
    if sample_weight is None:
        return float(np.mean(per_sample))
    return float(np.dot(per_sample, sample_weight) / np.sum(sample_weight))


def _clip_probability(prob):
    eps = np.finfo(prob.dtype).eps
    return np.clip(prob, eps, 1 - eps)


def squared_error(y, pred, sample_weight=None):
    """Half the squared error, summed over outputs, averaged over samples."""
    per_sample = 0.5 * np.sum((pred - y) ** 2, axis=1)
    return _weighted_mean(per_sample, sample_weight)


def poisson(y, pred, sample_weight=None):
    """Half the Poisson deviance, summed over outputs, averaged over samples.

    ``pred`` is the predicted mean (the exponential of the output layer).
    """
    per_sample = np.sum(xlogy(y, y / pred) - y + pred, axis=1)
    return _weighted_mean(per_sample, sample_weight)


def log_loss(y, prob, sample_weight=None):
    """Cross-entropy of one-hot ``y`` and softmax probabilities ``prob``."""
    per_sample = -np.sum(xlogy(y, _clip_probability(prob)), axis=1)
    return _weighted_mean(per_sample, sample_weight)


def binary_log_loss(y, prob, sample_weight=None):
    """Cross-entropy of independent binary outputs with logistic probabilities."""
    prob = _clip_probability(prob)
    per_sample = -np.sum(xlogy(y, prob) + xlogy(1 - y, 1 - prob), axis=1)
    return _weighted_mean(per_sample, sample_weight)


LOSSES = {
    "squared_error": squared_error,
    "poisson": poisson,
    "log_loss": log_loss,
    "binary_log_loss": binary_log_loss,
}

# The output activation each loss is the canonical link of (see above).
OUTPUT_ACTIVATION_OF_LOSS = {
    "squared_error": "identity",
    "poisson": "exp",
    "log_loss": "softmax",
    "binary_log_loss": "logistic",
}
