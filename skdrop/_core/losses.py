"""Losses of the network's output: :class:`Loss` objects in :data:`LOSSES`.

A loss is one :class:`Loss` subclass. Giving it a ``name`` registers it; the
network's backward passes, the estimators' output activation, the
regressor's ``loss`` validation, the checks of a loaded model and the ONNX
export all read the registry, so a new loss touches no other file.

Each built-in loss is paired with the output activation that makes it a
canonical link (softmax with log loss, logistic with binary log loss,
identity with the squared error, exp with the Poisson deviance), so that its
gradient with respect to the output pre-activation is simply
``output - y``; a loss whose activation is not its canonical link overrides
:meth:`Loss.output_gradient`.

Convention: the loss is the (sample-weighted) *mean over samples* of the
*sum over outputs*. With this convention the gradient ``(output - y) / n``
is exactly the derivative of the loss, also for several outputs.
"""

import numpy as np
from scipy.special import xlogy

from .registry import Registered

LOSSES = {}


def _weighted_mean(per_sample, sample_weight):
    if sample_weight is None:
        return float(np.mean(per_sample))
    return float(np.dot(per_sample, sample_weight) / np.sum(sample_weight))


def _clip_probability(prob):
    eps = np.finfo(prob.dtype).eps
    return np.clip(prob, eps, 1 - eps)


class Loss(Registered):
    """A loss of the network's output (base class).

    A subclass sets ``name`` (registering one instance in :data:`LOSSES`),
    ``output_activation`` (a key of
    :data:`skdrop._core.activations.OUTPUT_ACTIVATIONS`), ``estimator``
    (``'regressor'`` or ``'classifier'``: which estimator offers it; the
    regressor's ``loss`` parameter accepts the registered regression losses)
    and :meth:`per_sample`; it overrides :meth:`output_gradient` unless its
    activation is its canonical link.
    """

    registry = LOSSES
    registers_instances = True
    output_activation = None
    estimator = None
    # True for a loss that is a Gaussian negative log-likelihood times the
    # noise variance: learned dropout rates then scale their regulariser by
    # an estimate of that variance (see skdrop._core.concrete).
    scaled_by_noise_variance = False

    def __call__(self, y, output, sample_weight=None):
        """The (sample-weighted) mean over rows of :meth:`per_sample`."""
        return _weighted_mean(self.per_sample(y, output), sample_weight)

    def per_sample(self, y, output):
        """The loss of each row, summed over outputs."""
        raise NotImplementedError

    def check_targets(self, y):
        """Raise ``ValueError`` for targets outside the loss's domain."""

    def output_gradient(self, output, y, out):
        """Write the derivative of :meth:`per_sample` with respect to the
        output pre-activation into ``out``: ``output - y`` for a canonical
        link."""
        return np.subtract(output, y, out=out)


def output_delta(loss, output, y, sample_weight, weight_sum, out):
    """The derivative of a batch's mean loss at the output pre-activation.

    ``loss.output_gradient`` weighted by ``sample_weight`` and divided by
    ``weight_sum`` once, which makes every gradient below it a mean. Both
    the per-row pass and the shared-mask step start their backward pass
    here, so they cannot disagree about the output.
    """
    loss.output_gradient(output, y, out)
    if sample_weight is not None:
        out *= sample_weight[:, np.newaxis]
    out *= 1.0 / weight_sum
    return out


class SquaredError(Loss):
    """Half the squared error, summed over outputs, averaged over samples."""

    name = "squared_error"
    output_activation = "identity"
    estimator = "regressor"
    scaled_by_noise_variance = True

    def per_sample(self, y, output):
        return 0.5 * np.sum((output - y) ** 2, axis=1)


class Poisson(Loss):
    """Half the Poisson deviance, summed over outputs, averaged over samples.

    ``output`` is the predicted mean (the exponential of the output layer).
    """

    name = "poisson"
    output_activation = "exp"
    estimator = "regressor"

    def check_targets(self, y):
        if np.any(y < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for "
                "Poisson regression."
            )

    def per_sample(self, y, output):
        return np.sum(xlogy(y, y / output) - y + output, axis=1)


class LogLoss(Loss):
    """Cross-entropy of one-hot ``y`` and softmax probabilities."""

    name = "log_loss"
    output_activation = "softmax"
    estimator = "classifier"

    def per_sample(self, y, output):
        return -np.sum(xlogy(y, _clip_probability(output)), axis=1)


class BinaryLogLoss(Loss):
    """Cross-entropy of independent binary outputs with logistic probabilities."""

    name = "binary_log_loss"
    output_activation = "logistic"
    estimator = "classifier"

    def per_sample(self, y, output):
        prob = _clip_probability(output)
        return -np.sum(xlogy(y, prob) + xlogy(1 - y, 1 - prob), axis=1)


def losses_of(estimator):
    """Names of the registered losses an estimator kind offers, in order."""
    return [name for name, loss in LOSSES.items() if loss.estimator == estimator]


def output_activations_of(estimator):
    """The output activations a fitted ``estimator`` kind may have."""
    return {LOSSES[name].output_activation for name in losses_of(estimator)}
