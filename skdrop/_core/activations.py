"""Activation functions and their derivatives, computed in place.

Every function here overwrites its array argument. Derivatives are expressed
through the activation's *output* (not its input), so the backward pass needs
no copy of the pre-activations; they use that output as scratch space
(overwrite it), so that a training step allocates no temporary array.

Hidden activations and derivatives share one signature with an optional
``mask``: a boolean scratch array of the data's shape for SELU, which needs
one (and allocates it when none is given); the others ignore it.
"""

import numpy as np
from scipy.special import expit

# Constants of the scaled exponential linear unit (Klambauer et al., 2017):
# the fixed point of mean 0 and variance 1 for standardised inputs.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def identity(Z, mask=None):
    """Leave ``Z`` unchanged."""


def logistic(Z, mask=None):
    """Logistic sigmoid, in place; ``expit`` is stable for any finite input."""
    expit(Z, out=Z)


def tanh(Z, mask=None):
    """Hyperbolic tangent, in place."""
    np.tanh(Z, out=Z)


def relu(Z, mask=None):
    """Rectified linear unit, in place."""
    np.maximum(Z, 0, out=Z)


def selu(Z, mask=None):
    """Scaled exponential linear unit, in place."""
    negative = np.less(Z, 0, out=mask)
    # exp is only evaluated where it is used, so large positive inputs
    # cannot overflow.
    np.expm1(Z, out=Z, where=negative)
    np.multiply(Z, SELU_ALPHA, out=Z, where=negative)
    Z *= SELU_SCALE


def exp(Z):
    """Exponential, in place (the inverse link of the Poisson loss)."""
    np.exp(Z, out=Z)


def softmax(Z):
    """Row-wise softmax, in place, shifted by each row's maximum for stability."""
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)


def identity_derivative(A, delta, mask=None):
    """Multiply ``delta`` by the derivative of the identity: nothing to do."""


def logistic_derivative(A, delta, mask=None):
    """Multiply ``delta`` by ``A * (1 - A)``, the logistic derivative (``A`` is
    overwritten)."""
    delta *= A
    np.subtract(1.0, A, out=A)
    delta *= A


def tanh_derivative(A, delta, mask=None):
    """Multiply ``delta`` by ``1 - A**2``, the tanh derivative (``A`` is
    overwritten)."""
    np.square(A, out=A)
    np.subtract(1.0, A, out=A)
    delta *= A


def relu_derivative(A, delta, mask=None):
    """Zero ``delta`` where the unit was inactive (``A`` is overwritten)."""
    # The comparison written as 0.0/1.0 into A is cheaper than a boolean
    # mask, which would need a mixed-type multiplication.
    np.greater(A, 0, out=A)
    delta *= A


def selu_derivative(A, delta, mask=None):
    """Multiply ``delta`` by the SELU derivative, written with its output.

    For ``z > 0`` the derivative is ``scale``; otherwise it is
    ``scale * alpha * exp(z)``, which equals ``A + scale * alpha``.
    ``A`` is overwritten.
    """
    positive = np.greater(A, 0, out=mask)
    A += SELU_SCALE * SELU_ALPHA
    np.copyto(A, SELU_SCALE, where=positive)
    delta *= A


HIDDEN_ACTIVATIONS = {
    "identity": identity,
    "logistic": logistic,
    "tanh": tanh,
    "relu": relu,
    "selu": selu,
}

OUTPUT_ACTIVATIONS = {
    "identity": identity,
    "logistic": logistic,
    "softmax": softmax,
    "exp": exp,
}

DERIVATIVES = {
    "identity": identity_derivative,
    "logistic": logistic_derivative,
    "tanh": tanh_derivative,
    "relu": relu_derivative,
    "selu": selu_derivative,
}


def init_bound(activation, fan_in, fan_out):
    """Half-width of the uniform weight initialisation for a layer.

    Glorot's bound for the saturating and linear activations (with the smaller
    factor scikit-learn uses for the logistic), LeCun's for SELU, whose
    self-normalisation assumes weights of variance ``1 / fan_in``.
    """
    if activation == "selu":
        return np.sqrt(3.0 / fan_in)
    factor = 2.0 if activation == "logistic" else 6.0
    return np.sqrt(factor / (fan_in + fan_out))
