"""The dropout toolkit: gradients under every noise type, max-norm, SELU.

The gradient checks hold the dropout noise fixed: the network draws its
masks once, then ``sample`` is replaced by a no-op so every finite-difference
evaluation re-applies exactly the same ``mult`` and ``add``.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _penalized import penalized_backward, penalized_loss
from sklearn.exceptions import ConvergenceWarning

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._network import Network
from skdrop._noise import NOISE

ACTIVATIONS = ["identity", "logistic", "tanh", "relu", "selu"]
DROPOUT_TYPES = list(NOISE)
# (output activation, loss, target kind)
HEADS = [
    ("softmax", "log_loss", "onehot"),
    ("identity", "squared_error", "real"),
    ("logistic", "binary_log_loss", "binary"),
]


def _targets(kind, rng, n_rows, n_outputs):
    if kind == "onehot":
        return np.eye(n_outputs)[rng.integers(n_outputs, size=n_rows)]
    if kind == "binary":
        return rng.integers(2, size=(n_rows, n_outputs)).astype(float)
    return rng.standard_normal((n_rows, n_outputs))


def _network_with_frozen_noise(activation, kind, out_activation, X, seed):
    network = Network([X.shape[1], 7, 6, 3], activation, out_activation, np.float64)
    rng = np.random.default_rng(seed)
    network.initialize(rng)
    network.set_dropout([0.2, 0.3, 0.4], kind)
    network.forward(X, rng)  # draws the masks
    for dropout in network.dropouts:
        dropout.sample = lambda rng, n_rows: None
    return network


def _loss_at(network, params, X, y, loss, alpha, sample_weight):
    network.params[...] = params
    network.forward(X, np.random.default_rng())  # rng given: noise applied
    weight_sum = len(y) if sample_weight is None else sample_weight.sum()
    return penalized_loss(network, loss, y, sample_weight, alpha, weight_sum)


@pytest.mark.parametrize("kind", DROPOUT_TYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("head", HEADS, ids=[h[1] for h in HEADS])
def test_gradient_matches_finite_differences(activation, kind, head):
    out_activation, loss, target_kind = head
    rng = np.random.default_rng(10)
    X = rng.standard_normal((9, 5))
    y = _targets(target_kind, rng, 9, 3)
    sample_weight = rng.uniform(0.5, 2.0, size=9)
    alpha = 0.3
    network = _network_with_frozen_noise(activation, kind, out_activation, X, 11)
    params = network.params.copy()

    _loss_at(network, params, X, y, loss, alpha, sample_weight)
    penalized_backward(network, y, sample_weight, alpha, dropout_on=True)
    analytic = network.grad.copy()

    eps = 1e-6
    numeric = np.empty_like(params)
    for i in range(params.size):
        step = np.zeros_like(params)
        step[i] = eps
        up = _loss_at(network, params + step, X, y, loss, alpha, sample_weight)
        down = _loss_at(network, params - step, X, y, loss, alpha, sample_weight)
        numeric[i] = (up - down) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_frozen_noise_is_really_applied():
    # Guard for the test above: with the noise frozen the loss differs from
    # the noiseless loss, so the gradients were checked *with* dropout.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((9, 5))
    y = _targets("real", rng, 9, 3)
    network = _network_with_frozen_noise("tanh", "bernoulli", "identity", X, 1)
    noisy = _loss_at(network, network.params.copy(), X, y, "squared_error", 0, None)
    network.forward(X, None)
    clean = penalized_loss(network, "squared_error", y, None, 0, 9)
    assert abs(noisy - clean) > 1e-3


# -- max-norm ------------------------------------------------------------------


def _incoming_norms(estimator):
    """Norms of every hidden unit's incoming weights (the output is free)."""
    return [np.linalg.norm(W, axis=0) for W in estimator.coefs_[:-1]]


@pytest.fixture
def classification_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 20)) * 3
    y = (X[:, 0] + X[:, 1] ** 2 > 2).astype(int)
    return X, y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", DROPOUT_TYPES)
def test_max_norm_bounds_every_hidden_unit_after_fit(classification_data, kind, dtype):
    X, y = classification_data
    max_norm = 0.5
    clf = DropoutMLPClassifier(
        hidden_layer_sizes=(40, 30),
        activation="selu" if kind == "alpha" else "relu",
        dropout_type=kind,
        max_norm=max_norm,
        learning_rate_init=0.01,
        max_iter=30,
        random_state=0,
    ).fit(X.astype(dtype), y)
    norms = np.concatenate(_incoming_norms(clf))
    assert norms.max() <= max_norm * (1 + 1e-5)
    # The bound is active (the test is not vacuous): unconstrained, these
    # units grow well beyond it.
    assert norms.max() >= max_norm * (1 - 1e-5)
    free = DropoutMLPClassifier(**{**clf.get_params(), "max_norm": None}).fit(X, y)
    assert np.concatenate(_incoming_norms(free)).max() > 2 * max_norm


def test_max_norm_bounds_after_every_partial_fit(classification_data):
    X, y = classification_data
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(50,), max_norm=0.3, learning_rate_init=0.05
    )
    for start in range(0, 300, 50):
        reg.partial_fit(X[start : start + 50], y[start : start + 50])
        assert max(n.max() for n in _incoming_norms(reg)) <= 0.3 * (1 + 1e-6)


def test_max_norm_with_sparse_input_and_sgd(classification_data):
    X, y = classification_data
    clf = DropoutMLPClassifier(
        hidden_layer_sizes=(30,),
        solver="sgd",
        learning_rate_init=0.1,
        max_norm=1.0,
        max_iter=20,
        random_state=0,
    ).fit(sp.csr_matrix(X), y)
    assert _incoming_norms(clf)[0].max() <= 1.0 + 1e-6


# -- alpha dropout and SELU ---------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_alpha_dropout_without_selu_warns(activation, classification_data):
    X, y = classification_data
    clf = DropoutMLPClassifier(
        hidden_layer_sizes=(10,),
        activation=activation,
        dropout_type="alpha",
        max_iter=2,
    )
    with pytest.warns(UserWarning, match="alpha.*selu"):
        clf.fit(X, y)


@pytest.mark.parametrize(
    "params",
    [
        {"activation": "selu", "dropout_type": "alpha"},
        {"activation": "relu", "dropout_type": "alpha", "dropout_rate": 0.0},
        {"activation": "relu", "dropout_type": "gaussian"},
    ],
)
def test_no_warning_where_alpha_dropout_is_fine(params, classification_data):
    X, y = classification_data
    clf = DropoutMLPClassifier(hidden_layer_sizes=(10,), max_iter=2, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        # ConvergenceWarning is a UserWarning too; two epochs do not converge.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)


def test_selu_uses_lecun_initialisation():
    # A learning rate of 1e-12 leaves the weights at their initial values.
    X = np.random.default_rng(0).standard_normal((50, 400))
    y = np.arange(50) % 2
    clf = DropoutMLPClassifier(
        hidden_layer_sizes=(300,),
        activation="selu",
        learning_rate_init=1e-12,
        max_iter=1,
        random_state=0,
    ).fit(X, y)
    W = clf.coefs_[0]
    bound = np.sqrt(3 / 400)
    assert np.abs(W).max() <= bound
    # Uniform on [-b, b] has variance b^2 / 3 = 1 / fan_in; the sample
    # variance of 120,000 draws is within 1 % of it.
    assert W.var() == pytest.approx(1 / 400, rel=0.02)


@pytest.mark.parametrize("kind", DROPOUT_TYPES)
def test_predict_uses_the_unscaled_whole_network(kind):
    # Inverted dropout (and mean-one Gaussian noise) needs no rescaling at
    # prediction: predict is the plain forward pass with the fitted weights.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 6))
    y = X @ rng.standard_normal(6)
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(20, 20),
        activation="selu" if kind == "alpha" else "tanh",
        dropout_type=kind,
        dropout_rate=0.4,
        input_dropout_rate=0.2,
        max_iter=20,
        random_state=0,
    ).fit(X, y)
    hidden = np.tanh if kind != "alpha" else _selu
    A = X
    for W, b in zip(reg.coefs_[:-1], reg.intercepts_[:-1], strict=True):
        A = hidden(A @ W + b)
    expected = A @ reg.coefs_[-1] + reg.intercepts_[-1]
    np.testing.assert_allclose(reg.predict(X), expected[:, 0], rtol=1e-10)


def _selu(Z):
    from skdrop._activations import SELU_ALPHA, SELU_SCALE

    return SELU_SCALE * np.where(Z > 0, Z, SELU_ALPHA * np.expm1(np.minimum(Z, 0)))


@pytest.mark.parametrize("kind", DROPOUT_TYPES)
def test_every_dropout_type_learns(kind):
    # Noise must not wreck training: a simple problem is still learnt.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 5))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    clf = DropoutMLPClassifier(
        activation="selu" if kind == "alpha" else "relu",
        dropout_type=kind,
        input_dropout_rate=0.1,
        max_iter=100,
        random_state=0,
    ).fit(X[:300], y[:300])
    assert clf.score(X[300:], y[300:]) > 0.9
