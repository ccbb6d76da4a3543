"""What a fit checks beyond its parameters: that a warm start or
``partial_fit`` continues a network of the same shape and output, and what
most likely made a fit diverge.

These read the fitted state and the data, not the training loop, so they
are kept apart from the orchestration in :mod:`skdrop._base`.
"""

import numpy as np

from ._core.losses import LOSSES
from ._validation import largest_magnitude

# Above this magnitude, data are named as the likelier cause of a diverged
# fit: standardised data are within a few units, and products of such values
# with the initial weights overflow float32 from about 1e19 on.
LARGE_INPUT = 1e6
# Above this alpha, the penalty is named as the likelier cause: its gradient
# step is about learning_rate * alpha / batch weight times the weights.
LARGE_ALPHA = 1e3


def check_continued_network(estimator, layer_units, loss_name):
    """Refuse to continue a fitted network whose shape or output changed.

    Parameters
    ----------
    estimator : BaseDropoutMLP
        Fitted: gives ``coefs_`` and ``out_activation_``.
    layer_units : list of int
        Units per layer that the data and ``hidden_layer_sizes`` now give.
    loss_name : str
        The loss this call trains on.

    Raises
    ------
    ValueError
        If the layer sizes differ from the fitted ones, or the loss needs
        another output activation than the fitted one.
    """
    coefs = estimator.coefs_
    expected = [c.shape[0] for c in coefs] + [coefs[-1].shape[1]]
    if layer_units != expected:
        raise ValueError(
            "The network shape changed since the previous call: layer sizes "
            f"{expected} were fitted, the data and hidden_layer_sizes now "
            f"give {layer_units}. Refit with warm_start=False."
        )
    # A warm start keeps the output layer: it must suit the current loss.
    activation = LOSSES[loss_name].output_activation
    if estimator.out_activation_ != activation:
        raise ValueError(
            f"The fitted network has the output activation "
            f"{estimator.out_activation_!r}, but loss={loss_name!r} needs "
            f"{activation!r}: the loss changed since the previous call. "
            "Refit with warm_start=False (partial_fit cannot change the loss)."
        )


def divergence_hint(estimator, X, y):
    """The likelier cause of a diverged fit, as a sentence.

    Parameters
    ----------
    estimator : BaseDropoutMLP
        Gives ``alpha`` and ``learning_rate_init``.
    X, y : ndarray or sparse matrix
        The training data, as validated.

    Returns
    -------
    hint : str
        Data far from unit scale, a huge penalty, or the learning rate.
    """
    largest = max(largest_magnitude(X), largest_magnitude(y))
    if estimator.alpha > LARGE_ALPHA:
        return (
            f"The L2 penalty alpha={estimator.alpha} is so strong that its "
            "steps overshoot: use a smaller alpha."
        )
    if largest > LARGE_INPUT:
        return (
            f"The data have values as large as {largest:.3g} (in "
            f"{np.dtype(X.dtype).name}), which overflow in the network: "
            "scale X (and y), e.g. with StandardScaler."
        )
    return (
        f"The learning rate (learning_rate_init={estimator.learning_rate_init}) "
        "is most likely too large, or the input data need scaling."
    )
