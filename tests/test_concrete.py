"""Learned dropout rates (Concrete dropout): the relaxed mask, its gradient,
the regulariser, and what ``dropout_rate='auto'`` does to a fit."""

import math
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._core.concrete import (
    INITIAL_RATE,
    LOGIT_SCALE,
    TEMPERATURE,
    RatePrior,
    RelaxedBernoulli,
    logit,
    rate_regulariser,
)
from skdrop._core.network import Network


def _network(rates, dtype=np.float64, seed=0):
    network = Network([5, 7, 6, 2], "tanh", "identity", dtype)
    network.initialize(np.random.default_rng(seed))
    network.set_dropout(rates)
    return network


def _batch(seed=1, n=9, sparse=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    if sparse:
        X[X < 0.3] = 0.0
        X = sp.csr_matrix(X)
    return X, rng.normal(size=(n, 2))


def _loss_at(network, params, X, y, seed):
    network.params[...] = params
    loss, _ = network.train_step_gradient(
        X, y, None, "squared_error", np.random.default_rng(seed)
    )
    return loss


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("rates", [["auto", "auto", "auto"], [0.0, "auto", 0.2]])
def test_gradient_of_every_parameter_matches_finite_differences(rates, sparse):
    # With the uniform draws fixed (same seed), the relaxed mask is a smooth
    # function of the logits: the loss is differentiable in every parameter.
    network = _network(rates)
    network.noise_params[...] = [
        logit(r) for r in np.linspace(0.2, 0.4, len(network.noise_params))
    ]
    X, y = _batch(sparse=sparse)
    params = network.params.copy()
    _loss_at(network, params, X, y, seed=3)
    analytic = network.grad.copy()
    h = 1e-6
    numeric = np.empty_like(params)
    for k in range(params.size):
        step = np.zeros_like(params)
        step[k] = h
        numeric[k] = (
            _loss_at(network, params + step, X, y, 3)
            - _loss_at(network, params - step, X, y, 3)
        ) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_relaxed_mask_is_nearly_binary_and_keeps_the_mean():
    noise = RelaxedBernoulli(400, np.float64)
    noise.rate = 0.3
    noise.sample(np.random.default_rng(0), 500)
    mult = noise._mult[:500]
    kept = mult * (1 - 0.3)  # the relaxed keep indicator 1 - z
    # At temperature 0.1 most draws are within 0.05 of 0 or 1.
    assert np.mean((kept < 0.05) | (kept > 0.95)) > 0.8
    assert abs(np.mean(kept < 0.5) - 0.3) < 0.01
    assert abs(mult.mean() - 1.0) < 0.02


@pytest.mark.parametrize("rate", [0.05, 0.3, 0.7])
def test_regulariser_gradient_matches_finite_differences(rate):
    weights = np.random.default_rng(0).normal(size=(6, 4))

    def value(theta):
        layer = RelaxedBernoulli(6, np.float64)
        layer.logit = theta
        return rate_regulariser(layer, weights, n_rows=50, scale=0.7), layer

    theta = logit(rate)
    _, layer = value(theta)
    h = 1e-6
    numeric = (value(theta + h)[0] - value(theta - h)[0]) / (2 * h)
    # The stored parameter is theta / LOGIT_SCALE.
    assert layer.param_grad[0] == pytest.approx(numeric * LOGIT_SCALE, rel=1e-6)


def test_regulariser_pulls_towards_one_half_more_with_fewer_rows():
    weights = np.zeros((6, 4))
    pulls = []
    for n_rows in (50, 5000):
        layer = RelaxedBernoulli(6, np.float64)
        layer.rate = 0.1
        rate_regulariser(layer, weights, n_rows, scale=1.0)
        pulls.append(-layer.param_grad[0])
    # A negative gradient raises the rate towards 1/2; 100x the rows, 1/100 the pull.
    assert pulls[0] > 0
    assert pulls[0] == pytest.approx(100 * pulls[1])


def test_rate_prior_scales_the_squared_error_by_the_residual_variance():
    network = _network(["auto", "auto", "auto"])
    prior = RatePrior(n_rows=100, loss_name="squared_error", n_outputs=2)
    network.noise_grad[...] = 0
    small = prior.add_gradient(network, data_loss=0.01)
    grad_small = network.noise_grad.copy()
    prior = RatePrior(n_rows=100, loss_name="squared_error", n_outputs=2)
    network.noise_grad[...] = 0
    large = prior.add_gradient(network, data_loss=1.0)
    np.testing.assert_allclose(network.noise_grad, 100 * grad_small)
    assert large == pytest.approx(100 * small)


def test_learned_logits_are_segments_of_the_flat_parameter_vector():
    network = _network(["auto", 0.5, "auto"])
    n_layer_params = sum((a + 1) * b for a, b in [(5, 7), (7, 6), (6, 2)])
    assert network.params.size == n_layer_params + 2
    assert [i for i, _ in network.learned_rate_layers] == [0, 2]
    assert network.dropout_rates[0] == pytest.approx(INITIAL_RATE)
    network.params[-1] = logit(0.25) / LOGIT_SCALE
    assert network.dropout_rates[2] == pytest.approx(0.25)
    assert network.dropout_rates[1] == 0.5


def _data(n, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + noise * rng.normal(size=n)
    return X, y


def test_rates_fall_as_the_data_grow():
    # The regulariser's weight is 2 / N: more rows, less need for noise.
    # 150 epochs: rates 0.15 (100 rows) and 0.002 (2000 rows); 300 epochs
    # gave 0.10 and 0.0002 in twice the time.
    rates = []
    for n in (100, 2000):
        X, y = _data(n)
        reg = DropoutMLPRegressor(
            hidden_layer_sizes=(32,), dropout_rate="auto", max_iter=150, random_state=0
        ).fit(X, y)
        rates.append(reg.dropout_rates_[0])
    assert rates[1] < rates[0]


def test_rates_rise_with_the_noise_of_the_target():
    rates = []
    for noise in (0.01, 1.0):
        X, y = _data(200, noise=noise)
        reg = DropoutMLPRegressor(
            hidden_layer_sizes=(32,), dropout_rate="auto", max_iter=400, random_state=0
        ).fit(X, y)
        rates.append(reg.dropout_rates_[0])
    assert rates[1] > rates[0]


def test_learned_rates_drive_monte_carlo_and_survive_pickling():
    X, y = _data(150)
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(16,),
        dropout_rate="auto",
        input_dropout_rate="auto",
        max_iter=50,
        random_state=0,
    ).fit(X, y)
    assert reg.dropout_rates_.shape == (1,)
    assert 0 < reg.input_dropout_rate_ < 1
    assert reg._prediction_rates() == pytest.approx(
        [reg.input_dropout_rate_, reg.dropout_rates_[0]], rel=1e-4
    )
    loaded = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(
        loaded.predict_samples(X[:5], 4, random_state=1),
        reg.predict_samples(X[:5], 4, random_state=1),
    )
    # partial_fit goes on from the learned rates, with the same optimiser.
    before = reg.dropout_rates_.copy()
    loaded.partial_fit(X, y)
    assert loaded.dropout_rates_[0] == pytest.approx(before[0], abs=0.01)


def test_warm_start_continues_from_the_learned_rates():
    X, y = _data(150)
    params = dict(hidden_layer_sizes=(16,), dropout_rate="auto", random_state=0)
    reg = DropoutMLPRegressor(max_iter=30, warm_start=True, **params).fit(X, y)
    reg.fit(X, y)
    full = DropoutMLPRegressor(max_iter=60, **params).fit(X, y)
    assert reg.dropout_rates_[0] != pytest.approx(INITIAL_RATE)
    assert abs(reg.dropout_rates_[0] - full.dropout_rates_[0]) < 0.05


@pytest.mark.parametrize(
    "params, names",
    [
        ({"dropout_group_size": 8}, "dropout_group_size"),
        ({"dropout_type": "gaussian"}, "dropout_type"),
        ({"dropout_type": "alpha", "activation": "selu"}, "dropout_type"),
    ],
)
def test_auto_is_refused_with_masks_it_cannot_learn(params, names):
    X, y = _data(40)
    with pytest.raises(ValueError, match=rf"dropout_rate='auto'.*{names}"):
        DropoutMLPRegressor(dropout_rate="auto", **params).fit(X, y)


def test_auto_is_refused_by_lbfgs():
    X, y = _data(40)
    with pytest.raises(ValueError, match="lbfgs"):
        DropoutMLPRegressor(dropout_rate="auto", solver="lbfgs").fit(X, y)


def test_grid_search_takes_auto_among_fixed_rates():
    X, y = _data(120)
    search = GridSearchCV(
        DropoutMLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0),
        {"dropout_rate": [0.1, "auto"]},
        cv=2,
    ).fit(X, y)
    assert search.cv_results_["param_dropout_rate"].tolist() == [0.1, "auto"]
    assert clone(search.best_estimator_).get_params()["dropout_rate"] in (0.1, "auto")


def test_classifier_learns_rates_and_predicts_with_them():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    clf = DropoutMLPClassifier(
        hidden_layer_sizes=(16, 16), dropout_rate="auto", max_iter=200, random_state=0
    ).fit(X, y)
    assert clf.dropout_rates_.shape == (2,)
    assert np.all((clf.dropout_rates_ > 0) & (clf.dropout_rates_ < 1))
    assert clf.score(X, y) > 0.85
    samples = clf.predict_samples(X[:4], n_samples=3, random_state=0)
    assert samples.shape == (3, 4, 2)


def test_float32_fit_keeps_its_dtype():
    X, y = _data(60)
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(8,), dropout_rate="auto", max_iter=5, random_state=0
    ).fit(X.astype(np.float32), y.astype(np.float32))
    assert reg.coefs_[0].dtype == np.float32
    assert math.isfinite(reg.dropout_rates_[0])
    assert TEMPERATURE == 0.1
