"""The L2 penalty on the weights, added to the gradient block by block.

The penalty's gradient is added inside the optimiser's block loop
(:meth:`skdrop._core.optimizers.Optimizer.step`), while the block is in
cache, rather than in a pass of its own over the whole vector.
"""

import numpy as np

from .blocks import add_scaled


class L2Penalty:
    """The L2 penalty ``alpha / (2 n) * ||W||^2`` on the weights.

    ``n`` is the total sample weight of the batch (scikit-learn's
    convention) and ``W`` the first ``n_weights`` entries of the flat
    parameter vector (the biases, after them, are not penalised). Its
    strength on a batch, ``alpha / n``, is its gradient's factor.

    Parameters
    ----------
    alpha : float
    n_weights : int
    """

    def __init__(self, alpha, n_weights):
        self.alpha = float(alpha)
        self.n_weights = n_weights

    def strength(self, weight_sum):
        """The gradient's factor on a batch of total weight ``weight_sum``."""
        return self.alpha / weight_sum

    def add_gradient(self, params, grad, strength, scratch, offset=0):
        """Add the gradient to ``grad``; return the penalty's value.

        ``params`` and ``grad`` are the slice of the flat vectors that starts
        at ``offset``; the value is that of the weights in the slice, so the
        sum over the blocks of a vector is the penalty of the whole vector.
        """
        n = min(self.n_weights - offset, params.size)
        if not strength or n <= 0:
            return 0.0
        weights = params[:n]
        add_scaled(weights, strength, grad[:n], scratch)
        return 0.5 * strength * float(np.dot(weights, weights))
