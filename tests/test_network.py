"""The network: forward and backward passes, parameters, prediction, max-norm.

The gradient oracle checks the backward pass against central finite
differences of the loss, in float64, for every hidden activation, every
loss with its output activation and every kind of dropout (or none). The
masks are drawn once and then held fixed, so that every evaluation of the
loss sees the same noise; the L2 penalty and sample weights are included as
training adds them.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from skdrop._core.activations import HIDDEN_ACTIVATIONS, SELU_ALPHA, SELU_SCALE
from skdrop._core.losses import LOSSES
from skdrop._core.network import Network
from skdrop._core.noise import NOISE
from skdrop._core.penalty import L2Penalty

# Each loss with the output activation that is its canonical link.
OUTPUT_OF_LOSS = {
    "squared_error": "identity",
    "poisson": "exp",
    "log_loss": "softmax",
    "binary_log_loss": "logistic",
}
KINDS = [None, *NOISE]
# Input, two hidden layers, three outputs (several outputs: the loss sums
# over them, so the gradient has no 1/n_outputs factor).
UNITS = (4, 5, 3, 3)
RATES = [0.2, 0.3, 0.4]
ALPHA = 0.1


def _targets(loss, n_rows, n_outputs, rng):
    if loss == "log_loss":
        return np.eye(n_outputs)[rng.integers(n_outputs, size=n_rows)]
    if loss == "binary_log_loss":
        return rng.integers(0, 2, size=(n_rows, n_outputs)).astype(float)
    if loss == "poisson":
        return rng.poisson(1.5, size=(n_rows, n_outputs)).astype(float)
    return rng.normal(size=(n_rows, n_outputs))


def _network(activation, loss="log_loss", units=UNITS, dtype=np.float64, seed=0):
    network = Network(list(units), activation, OUTPUT_OF_LOSS[loss], dtype)
    network.initialize(np.random.default_rng(seed))
    return network


def _freeze_masks(network):
    """Make later forward passes reuse the masks of the last one."""
    for dropout in network.dropouts:
        if dropout is not None:
            dropout.sample = lambda rng, n_rows: None


def _penalized_loss(network, output, loss, y, sw, alpha):
    """The loss of ``output`` plus ``alpha / (2 n) * ||W||^2``."""
    weight_sum = len(y) if sw is None else sw.sum()
    weights = network.params[: network.n_coef_params]
    data = LOSSES[loss](y, output, sw)
    return data + 0.5 * alpha / weight_sum * float(np.dot(weights, weights))


def _penalized_gradient(network, X, y, sw, alpha, rng, loss="log_loss"):
    """The gradient training takes: the network's data term plus the penalty."""
    _, weight_sum = network.train_step_gradient(X, y, sw, loss, rng)
    penalty = L2Penalty(alpha, network.n_coef_params)
    scratch = np.empty_like(network.params)
    penalty.add_gradient(
        network.params, network.grad, penalty.strength(weight_sum), scratch
    )
    return network.grad.copy()


def _loss_at(network, params, X, y, sw, loss, alpha, rng):
    saved = network.params.copy()
    network.params[...] = params
    output = network.forward(X, rng)
    value = _penalized_loss(network, output, loss, y, sw, alpha)
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


# -- the gradient oracle -------------------------------------------------
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k or "no-dropout")
@pytest.mark.parametrize("loss", sorted(OUTPUT_OF_LOSS))
@pytest.mark.parametrize("activation", sorted(HIDDEN_ACTIVATIONS))
def test_gradient_matches_finite_differences(activation, loss, kind):
    rng = np.random.default_rng(1)
    network = _network(activation, loss)
    X = rng.normal(size=(9, UNITS[0]))
    y = _targets(loss, 9, UNITS[-1], rng)
    sw = rng.uniform(0.5, 2.0, size=9)
    mask_rng = None
    if kind is not None:
        network.set_dropout(RATES, kind)
        mask_rng = np.random.default_rng(2)
        network.forward(X, mask_rng)  # draws the masks
        _freeze_masks(network)
        # The frozen noise is really applied: the loss is not the clean one.
        noisy = _loss_at(network, network.params, X, y, sw, loss, 0.0, mask_rng)
        clean = _loss_at(network, network.params, X, y, sw, loss, 0.0, None)
        assert abs(noisy - clean) > 1e-6
    analytic = _penalized_gradient(network, X, y, sw, ALPHA, mask_rng, loss)
    numerical = _numerical_gradient(network, X, y, sw, loss, ALPHA, mask_rng)
    np.testing.assert_allclose(analytic, numerical, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k or "no-dropout")
def test_sparse_input_gives_the_dense_gradient(kind, dtype):
    rng = np.random.default_rng(5)
    X = (rng.normal(size=(6, 4)) * (rng.random((6, 4)) < 0.5)).astype(dtype)
    y = _targets("log_loss", 6, 3, rng).astype(dtype)
    gradients = []
    for data in (X, sp.csr_matrix(X)):
        network = _network("relu", dtype=dtype)
        if kind is not None:
            network.set_dropout(RATES, kind)
        mask_rng = None if kind is None else np.random.default_rng(3)
        gradients.append(_penalized_gradient(network, data, y, None, 0.01, mask_rng))
    assert gradients[1].dtype == dtype
    tolerance = {np.float32: 1e-5, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(
        gradients[1], gradients[0], rtol=tolerance, atol=tolerance / 100
    )


# Masks drawn from random bits are the same in both precisions; Gaussian
# noise is drawn in the network's dtype, so it has no float64 twin.
@pytest.mark.parametrize("kind", [None, "bernoulli", "alpha"])
@pytest.mark.parametrize("activation", sorted(HIDDEN_ACTIVATIONS))
def test_float32_gradient_agrees_with_float64(activation, kind):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(37, 4))
    y = _targets("log_loss", 37, 3, rng)
    gradients = {}
    for dtype in (np.float32, np.float64):
        network = _network(activation, dtype=dtype)
        network.params[...] = _network(activation).params  # the same weights
        if kind is not None:
            network.set_dropout(RATES, kind)
        mask_rng = None if kind is None else np.random.default_rng(7)
        gradient = _penalized_gradient(
            network, X.astype(dtype), y.astype(dtype), None, 0.01, mask_rng
        )
        assert gradient.dtype == dtype
        gradients[dtype] = gradient
    scale = np.abs(gradients[np.float64]).max()
    np.testing.assert_allclose(
        gradients[np.float32], gradients[np.float64], rtol=2e-4, atol=2e-4 * scale
    )


@pytest.mark.parametrize("kind", list(NOISE))
def test_float32_stays_float32(kind):
    rng = np.random.default_rng(0)
    network = _network("selu", dtype=np.float32)
    network.set_dropout(RATES, kind)
    X = rng.normal(size=(10, 4)).astype(np.float32)
    y = _targets("log_loss", 10, 3, rng).astype(np.float32)
    assert network.forward(X, np.random.default_rng(0)).dtype == np.float32
    assert all(dropout.dtype == np.float32 for dropout in network.dropouts)
    network.train_step_gradient(X, y, None, "log_loss", np.random.default_rng(0))
    assert network.grad.dtype == np.float32


def test_network_gradient_and_loss_leave_out_the_l2_penalty():
    """The data term only: the penalty is added by skdrop._core.penalty.L2Penalty."""
    rng = np.random.default_rng(8)
    network = _network("relu")
    X = rng.normal(size=(6, 4))
    y = _targets("log_loss", 6, 3, rng)
    sw = rng.uniform(0.5, 2.0, size=6)
    alpha = 0.3
    with_penalty = _penalized_gradient(network, X, y, sw, alpha, None)
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
    full = _penalized_loss(network, network.forward(X), "log_loss", y, sw, alpha)
    assert loss + penalty == pytest.approx(full, rel=1e-12)


def test_masks_are_redrawn_every_forward_pass():
    X = np.random.default_rng(0).normal(size=(30, 4))
    network = _network("relu")
    network.set_dropout([0.0, 0.5, 0.5], "bernoulli")
    rng = np.random.default_rng(0)
    outputs = [network.forward(X, rng).copy() for _ in range(2)]
    assert not np.allclose(outputs[0], outputs[1])


# -- parameters and initialisation ---------------------------------------
def test_parameters_are_views_of_one_flat_vector():
    network = _network("relu")
    network.params[...] = 0.0
    network.coefs[1][0, 0] = 3.0
    network.intercepts[2][1] = 4.0
    assert network.params.sum() == 7.0
    assert network.params.size == sum(
        W.size + b.size for W, b in zip(network.coefs, network.intercepts, strict=True)
    )


def test_selu_uses_lecun_initialisation():
    network = Network([400, 300, 2], "selu", "softmax", np.float64)
    network.initialize(np.random.default_rng(0))
    W = network.coefs[0]
    assert np.abs(W).max() <= np.sqrt(3 / 400)
    # Uniform on [-b, b] has variance b^2 / 3 = 1 / fan_in; the sample
    # variance of 120,000 draws is within 2 % of it.
    assert W.var() == pytest.approx(1 / 400, rel=0.02)


# -- prediction ----------------------------------------------------------
def test_prediction_in_chunks_equals_one_pass(monkeypatch):
    rng = np.random.default_rng(6)
    network = _network("tanh")
    X = rng.normal(size=(50, 4))
    whole = network.forward(X).copy()
    monkeypatch.setattr("skdrop._core.network.PREDICT_CHUNK_BYTES", 7 * 5 * 8)
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


def test_forward_is_the_textbook_network():
    rng = np.random.default_rng(8)
    network = _network("selu", "squared_error")
    X = rng.normal(size=(10, 4))
    A = X
    for W, b in zip(network.coefs[:-1], network.intercepts[:-1], strict=True):
        Z = A @ W + b
        A = SELU_SCALE * np.where(Z > 0, Z, SELU_ALPHA * np.expm1(np.minimum(Z, 0)))
    expected = A @ network.coefs[-1] + network.intercepts[-1]
    np.testing.assert_allclose(network.forward(X), expected, rtol=1e-12)


# -- max-norm ------------------------------------------------------------
def test_max_norm_bounds_every_hidden_unit_and_spares_the_output_layer():
    network = _network("relu", "squared_error")
    for W in network.coefs:
        W *= 50.0
    output_before = network.coefs[-1].copy()
    network.apply_max_norm(1.5)
    for W in network.coefs[:-1]:
        assert np.linalg.norm(W, axis=0).max() <= 1.5 * (1 + 1e-12)
    np.testing.assert_array_equal(network.coefs[-1], output_before)
