"""Monte Carlo passes and their summary, on a bare network."""

import numpy as np
import pytest
import scipy.sparse as sp

import skdrop._core.network
from skdrop._core.montecarlo import (
    check_finite_output,
    monte_carlo_outputs,
    predictive_mean_std,
)
from skdrop._core.network import Network


def _network(rates=(0.0, 0.5)):
    network = Network([4, 16, 2], "relu", "identity", np.float64)
    network.initialize(np.random.default_rng(0))
    network.set_dropout(list(rates))
    return network


@pytest.mark.parametrize("chunk_bytes", [None, 16 * 8 * 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_passes_differ_and_average_near_the_whole_network(
    monkeypatch, sparse, chunk_bytes
):
    if chunk_bytes is not None:  # one pass per forward call, in chunks
        monkeypatch.setattr(skdrop._core.network, "PREDICT_CHUNK_BYTES", chunk_bytes)
    X = np.random.default_rng(1).standard_normal((7, 4))
    network = _network()
    samples = monte_carlo_outputs(
        network, sp.csr_matrix(X) if sparse else X, 400, np.random.default_rng(2)
    )
    assert samples.shape == (400, 7, 2)
    assert not np.allclose(samples[0], samples[1])
    whole = network.predict(X)
    spread = samples.std(axis=0) / np.sqrt(400)
    assert np.all(np.abs(samples.mean(axis=0) - whole) <= 6 * spread + 1e-9)


def test_same_generator_seed_gives_the_same_passes():
    X = np.random.default_rng(1).standard_normal((5, 4))
    first = monte_carlo_outputs(_network(), X, 3, np.random.default_rng(9))
    second = monte_carlo_outputs(_network(), X, 3, np.random.default_rng(9))
    np.testing.assert_array_equal(first, second)


def test_without_dropout_every_pass_is_the_whole_network():
    X = np.random.default_rng(1).standard_normal((5, 4))
    network = _network(rates=(0.0, 0.0))
    out = np.empty((3, 5, 2))
    samples = monte_carlo_outputs(network, X, 3, np.random.default_rng(0), out)
    assert samples is out
    for sample in samples:
        # Stacked passes multiply a taller matrix: equal up to rounding.
        np.testing.assert_allclose(sample, network.predict(X), rtol=1e-12)


def test_mean_std_adds_the_noise_variance_per_output():
    samples = np.random.default_rng(0).standard_normal((30, 4, 2))
    noise = np.array([0.5, 2.0])
    mean, std = predictive_mean_std(samples, noise)
    np.testing.assert_allclose(mean, samples.mean(axis=0))
    np.testing.assert_allclose(std**2, samples.var(axis=0) + noise)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_outputs_are_refused(bad):
    output = np.zeros((3, 2))
    check_finite_output(output)
    output[1, 1] = bad
    with pytest.raises(ValueError, match="infinity or NaN"):
        check_finite_output(output)
