"""The layout of a network's flat parameter vector.

Training keeps every parameter in one flat vector, so that an optimiser
updates the whole model in a few vector operations: first the weight
matrices ``(fan_in, fan_out)``, row-major, layer by layer; then the bias
vectors; then the parameters the noise owns (learned dropout logits, see
:mod:`skdrop._core.concrete`). The gradient has the same layout.
"""

import itertools


def parameter_views(flat, layer_units):
    """The weight matrices and bias vectors of ``flat``, as two lists of views."""
    coefs, intercepts, start = [], [], 0
    pairs = list(itertools.pairwise(layer_units))
    for fan_in, fan_out in pairs:
        coefs.append(flat[start : start + fan_in * fan_out].reshape(fan_in, fan_out))
        start += fan_in * fan_out
    for _, fan_out in pairs:
        intercepts.append(flat[start : start + fan_out])
        start += fan_out
    return coefs, intercepts


def n_layer_params(layer_units):
    """Entries of the weight matrices and bias vectors together."""
    return sum((a + 1) * b for a, b in itertools.pairwise(layer_units))


def n_weight_entries(layer_units):
    """Entries of the weight matrices: the flat vector's leading part, which
    the L2 penalty and max-norm act on."""
    return sum(a * b for a, b in itertools.pairwise(layer_units))
