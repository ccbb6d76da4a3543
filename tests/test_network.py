"""The network's backward pass is the derivative of its loss.

Gradients are checked against central finite differences in float64 for
every hidden activation and every loss/output pair, with and without dropout
(the masks drawn once and then held fixed).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from _penalized import penalized_backward, penalized_loss

from skdrop._losses import OUTPUT_ACTIVATION_OF_LOSS
from skdrop._network import Network
from skdrop._noise import NOISE

HIDDEN = ["identity", "logistic", "tanh", "relu", "selu"]
LOSSES = ["squared_error", "poisson", "log_loss", "binary_log_loss"]


def _targets(loss, n_rows, n_outputs, rng):
    if loss == "log_loss":
        return np.eye(n_outputs)[rng.integers(n_outputs, size=n_rows)]
    if loss == "binary_log_loss":
        return rng.integers(0, 2, size=(n_rows, n_outputs)).astype(float)
    if loss == "poisson":
        return rng.poisson(1.5, size=(n_rows, n_outputs)).astype(float)
    return rng.normal(size=(n_rows, n_outputs))


def _network(activation, loss, units=(4, 5, 3, 3), seed=0):
    network = Network(
        list(units), activation, OUTPUT_ACTIVATION_OF_LOSS[loss], np.float64
    )
    network.initialize(np.random.default_rng(seed))
    return network


def _freeze_masks(network):
    """Make later forward passes reuse the masks of the last one."""
    for dropout in network.dropouts:
        if dropout is not None:
            dropout.sample = lambda rng, n_rows: None


def _loss_at(network, params, X, y, sw, loss, alpha, rng):
    saved = network.params.copy()
    network.params[...] = params
    network.forward(X, rng)
    weight_sum = len(y) if sw is None else sw.sum()
    value = penalized_loss(network, loss, y, sw, alpha, weight_sum)
    network.params[...] = saved
    return value


def _numerical_gradient(network, X, y, sw, loss, alpha, rng, eps=1e-6):
    params = network.params.copy()
    gradient = np.empty_like(params)
    for k in range(params.size):
        step = np.zeros_like(params)
        step[k] = eps
        plus = _loss_at(network, params + step, X, y, sw, loss, alpha, rng)
        minus = _loss_at(network, params - step, X, y, sw, loss, alpha, rng)
        gradient[k] = (plus - minus) / (2 * eps)
    return gradient


def _analytic_gradient(network, X, y, sw, alpha, rng):
    network.forward(X, rng)
    penalized_backward(network, y, sw, alpha, dropout_on=rng is not None)
    return network.grad.copy()


@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("loss", LOSSES)
def test_gradient_matches_finite_differences(activation, loss):
    rng = np.random.default_rng(1)
    network = _network(activation, loss)
    X = rng.normal(size=(7, 4))
    y = _targets(loss, 7, 3, rng)
    sw = rng.uniform(0.5, 2.0, size=7)
    analytic = _analytic_gradient(network, X, y, sw, 0.1, None)
    numerical = _numerical_gradient(network, X, y, sw, loss, 0.1, None)
    np.testing.assert_allclose(analytic, numerical, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("kind", list(NOISE))
def test_gradient_with_fixed_dropout_masks(activation, kind):
    rng = np.random.default_rng(2)
    network = _network(activation, "log_loss")
    network.set_dropout([0.25, 0.5, 0.3], kind)
    X = rng.normal(size=(9, 4))
    y = _targets("log_loss", 9, 3, rng)
    mask_rng = np.random.default_rng(3)
    network.forward(X, mask_rng)
    _freeze_masks(network)
    analytic = _analytic_gradient(network, X, y, None, 0.0, mask_rng)
    numerical = _numerical_gradient(network, X, y, None, "log_loss", 0.0, mask_rng)
    np.testing.assert_allclose(analytic, numerical, rtol=1e-5, atol=1e-7)


def test_multi_output_squared_error_gradient_is_the_derivative_of_the_loss():
    """The loss sums over outputs, so its gradient has no 1/n_outputs factor."""
    rng = np.random.default_rng(4)
    network = _network("tanh", "squared_error", units=(3, 6, 4))
    X = rng.normal(size=(8, 3))
    y = rng.normal(size=(8, 4))
    analytic = _analytic_gradient(network, X, y, None, 0.0, None)
    numerical = _numerical_gradient(network, X, y, None, "squared_error", 0.0, None)
    np.testing.assert_allclose(analytic, numerical, rtol=1e-5, atol=1e-8)


def test_sparse_input_gives_the_dense_gradient():
    rng = np.random.default_rng(5)
    network = _network("relu", "log_loss")
    X = rng.normal(size=(6, 4)) * (rng.random((6, 4)) < 0.5)
    y = _targets("log_loss", 6, 3, rng)
    dense = _analytic_gradient(network, X, y, None, 0.01, None)
    sparse = _analytic_gradient(network, sp.csr_matrix(X), y, None, 0.01, None)
    np.testing.assert_allclose(sparse, dense, rtol=1e-12, atol=1e-14)


def test_network_gradient_and_loss_leave_out_the_l2_penalty():
    """The data term only: the penalty is added by skdrop._optimizers.L2Penalty."""
    rng = np.random.default_rng(8)
    network = _network("relu", "log_loss")
    X = rng.normal(size=(6, 4))
    y = _targets("log_loss", 6, 3, rng)
    sw = rng.uniform(0.5, 2.0, size=6)
    alpha = 0.3
    with_penalty = _analytic_gradient(network, X, y, sw, alpha, None)
    loss, weight_sum = network.train_step_gradient(X, y, sw, "log_loss", None)
    assert weight_sum == pytest.approx(sw.sum())
    without = network.grad.copy()
    n_weights = network.n_coef_params
    weights = network.params[:n_weights]
    np.testing.assert_allclose(
        without[:n_weights] + alpha / weight_sum * weights,
        with_penalty[:n_weights],
        rtol=1e-12,
    )
    np.testing.assert_array_equal(without[n_weights:], with_penalty[n_weights:])
    penalty = 0.5 * alpha / weight_sum * np.dot(weights, weights)
    assert penalty > 0
    full = penalized_loss(network, "log_loss", y, sw, alpha, weight_sum)
    assert loss + penalty == pytest.approx(full, rel=1e-12)


def test_parameters_are_views_of_one_flat_vector():
    network = _network("relu", "log_loss")
    network.params[...] = 0.0
    network.coefs[1][0, 0] = 3.0
    network.intercepts[2][1] = 4.0
    assert network.params.sum() == 7.0
    assert network.params.size == sum(
        W.size + b.size for W, b in zip(network.coefs, network.intercepts, strict=True)
    )


def test_prediction_in_chunks_equals_one_pass(monkeypatch):
    rng = np.random.default_rng(6)
    network = _network("tanh", "log_loss")
    X = rng.normal(size=(50, 4))
    whole = network.forward(X).copy()
    monkeypatch.setattr("skdrop._network.PREDICT_CHUNK_BYTES", 7 * 5 * 8)
    assert network.predict_chunk_rows() == 7
    # Equal up to rounding: OpenBLAS may block a 7-row product differently
    # from a 50-row one, and some of its kernels then round differently.
    np.testing.assert_allclose(network.predict(X), whole, rtol=1e-12, atol=0)


def test_forward_without_generator_uses_no_mask():
    rng = np.random.default_rng(7)
    network = _network("relu", "squared_error")
    X = rng.normal(size=(20, 4))
    clean = network.forward(X).copy()
    network.set_dropout([0.5, 0.5, 0.5])
    np.testing.assert_array_equal(network.forward(X), clean)
    noisy = network.forward(X, np.random.default_rng(0))
    assert not np.allclose(noisy, clean)


def test_max_norm_bounds_every_hidden_unit_and_spares_the_output_layer():
    network = _network("relu", "squared_error")
    for W in network.coefs:
        W *= 50.0
    output_before = network.coefs[-1].copy()
    network.apply_max_norm(1.5)
    for W in network.coefs[:-1]:
        assert np.linalg.norm(W, axis=0).max() <= 1.5 * (1 + 1e-12)
    np.testing.assert_array_equal(network.coefs[-1], output_before)
