"""Monte Carlo dropout prediction: stochastic passes and their summary.

A pass is a forward pass with dropout switched on, so each is the prediction
of one thinned network. Nothing here knows of estimators.
"""

import numpy as np
import scipy.sparse as sp

from .threads import blas_thread_limit, limited_blas_threads


def check_finite_output(output):
    """Refuse to return an output that overflowed to infinity or NaN."""
    # min and max propagate NaN and need no temporary as large as the output.
    if output.size and not (np.isfinite(output.min()) and np.isfinite(output.max())):
        raise ValueError(
            "The network's output contains infinity or NaN: an activation "
            "overflowed. The input values are too large for the fitted "
            "weights (or the weights are not finite); scale the input data."
        )


def monte_carlo_outputs(network, X, n_samples, rng, out=None):
    """Network outputs of ``n_samples`` passes with dropout switched on.

    Returns an array of shape ``(n_samples, n_rows, n_outputs)`` (``out`` if
    given); every pass draws fresh masks for every row from ``rng``, in row
    chunks. A network without dropout gives ``n_samples`` equal passes.
    """
    noise_rng = rng if network.has_dropout else None
    samples = out
    if samples is None:
        shape = (n_samples, X.shape[0], network.layer_units[-1])
        samples = np.empty(shape, dtype=network.dtype)
    chunk = network.predict_chunk_rows()
    passes_per_forward = chunk // max(X.shape[0], 1)
    rows_per_forward = min(chunk, X.shape[0] * n_samples)
    with limited_blas_threads(blas_thread_limit(network.layer_units, rows_per_forward)):
        if passes_per_forward < 2:
            for sample in samples:
                network.predict(X, noise_rng, out=sample)
        else:
            _stacked_passes(network, X, noise_rng, samples, passes_per_forward)
    check_finite_output(samples)
    return samples


def _stacked_passes(network, X, rng, samples, passes_per_forward):
    """Fill ``samples`` with several Monte Carlo passes per forward call.

    Few rows make a forward call mostly per-call overhead, so the rows are
    repeated to stack several passes into one batch of at most a prediction
    chunk; every repeated row still draws its own masks.
    """
    n_samples, n_rows = samples.shape[:2]
    repeats = min(passes_per_forward, n_samples)
    stacked = (
        sp.vstack([X] * repeats, format="csr")
        if sp.issparse(X)
        else np.tile(X, (repeats, 1))
    )
    for start in range(0, n_samples, repeats):
        stop = min(start + repeats, n_samples)
        output = network.forward(stacked[: (stop - start) * n_rows], rng)
        samples[start:stop] = output.reshape(stop - start, n_rows, -1)


def predictive_mean_std(samples, noise_variance):
    """Mean of the passes and the predictive std ``sqrt(var + noise_variance)``.

    ``samples`` has shape ``(n_samples, n_rows, n_outputs)`` and
    ``noise_variance`` one entry per output: the passes' variance is the
    model's uncertainty, ``noise_variance`` the data's.
    """
    mean = samples.mean(axis=0)
    variance = samples.var(axis=0)
    variance += noise_variance
    return mean, np.sqrt(variance, out=variance)
