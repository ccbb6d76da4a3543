"""Loss and gradient of a network plus the L2 penalty, for the gradient tests.

The network computes the data term only; the penalty belongs to
``skdrop._optimizers.L2Penalty``. These helpers add it the way training does.
"""

import numpy as np

from skdrop._optimizers import L2Penalty


def penalized_loss(network, loss_name, y, sample_weight, alpha, weight_sum):
    """The last forward pass's loss plus ``alpha / (2 n) * ||W||^2``."""
    weights = network.params[: network.n_coef_params]
    squared_norm = float(np.dot(weights, weights))
    data = network.loss(loss_name, y, sample_weight)
    return data + 0.5 * alpha / weight_sum * squared_norm


def penalized_backward(network, y, sample_weight, alpha, dropout_on):
    """Fill ``network.grad`` with the penalised gradient; return the weight sum."""
    weight_sum = network.backward(y, sample_weight, dropout_on)
    penalty = L2Penalty(alpha, network.n_coef_params)
    scratch = np.empty_like(network.params)
    penalty.add_gradient(
        network.params, network.grad, penalty.strength(weight_sum), scratch
    )
    return weight_sum
