"""The definition a grouped-mask training step must meet, for the tests.

:func:`dense_masked_step` computes a training step densely: every row gets
its group's mask, scaled by ``1 / (1 - p)`` with the quantised rate, and
dropped units are multiplied by zero. It allocates freely; the package's
network's pass with ``GroupMasks`` must give the same loss and gradient.
"""

import numpy as np
import scipy.sparse as sp

from skdrop._core.activations import (
    DERIVATIVES,
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
)
from skdrop._core.layout import parameter_views
from skdrop._core.losses import LOSSES
from skdrop._core.masking import group_bounds
from skdrop._core.noise import RATE_RESOLUTION, drop_threshold


def dense_masked_step(
    params,
    layer_units,
    activation,
    out_activation,
    loss,
    rates,
    X,
    y,
    sample_weight,
    masks,
    group_size,
):
    """Reference: the same step computed densely, dropped units times zero.

    Every row gets the mask of its group (``masks`` as returned by
    :meth:`GroupMasks.draw`), scaled by ``1 / (1 - p)`` with the
    quantised rate. Allocates freely; for tests. Returns ``(loss, grad)``.
    """
    n_rows = X.shape[0]
    coefs, intercepts = parameter_views(params, layer_units)
    grad = np.zeros_like(params)
    coef_grads, intercept_grads = parameter_views(grad, layer_units)
    bounds = group_bounds(n_rows, group_size)
    noise = []
    for rate, mask, width in zip(rates, masks, layer_units[:-1], strict=True):
        if mask is None:
            noise.append(np.ones((n_rows, width), dtype=params.dtype))
            continue
        quantised = drop_threshold(rate) / RATE_RESOLUTION
        sizes = [stop - start for start, stop in bounds]
        per_row = np.repeat(mask, sizes, axis=0)
        noise.append(per_row.astype(params.dtype) / (1.0 - quantised))
    X = X.toarray() if sp.issparse(X) else X
    hidden = HIDDEN_ACTIVATIONS[activation]
    clean, noisy = [], []
    A = X
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        clean.append(A)
        noisy.append(A * noise[i])
        Z = noisy[-1] @ W + b
        if i == len(coefs) - 1:
            OUTPUT_ACTIVATIONS[out_activation](Z)
        else:
            hidden(Z)
        A = Z
    weights = np.ones(n_rows) if sample_weight is None else sample_weight
    gradient = LOSSES[loss].output_gradient(A, y, np.empty_like(A))
    delta = gradient * (weights / np.sum(weights))[:, np.newaxis]
    for i in range(len(coefs) - 1, -1, -1):
        coef_grads[i][...] = noisy[i].T @ delta
        intercept_grads[i][...] = delta.sum(axis=0)
        if i:
            below = (delta @ coefs[i].T) * noise[i]
            DERIVATIVES[activation](clean[i].copy(), below)
            delta = below
    return LOSSES[loss](y, A, sample_weight), grad
