"""Loss values: sample-weighted means over samples of sums over outputs."""

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.metrics import log_loss as sklearn_log_loss
from sklearn.metrics import mean_poisson_deviance, mean_squared_error
from sklearn.utils._param_validation import InvalidParameterError

from skdrop import DropoutMLPRegressor
from skdrop._core.losses import LOSSES, Loss, output_delta


def test_log_loss_matches_scikit_learn():
    rng = np.random.default_rng(0)
    prob = rng.dirichlet(np.ones(4), size=30)
    labels = rng.integers(4, size=30)
    y = np.eye(4)[labels]
    weights = rng.uniform(0.1, 2, size=30)
    expected = sklearn_log_loss(labels, prob, sample_weight=weights, labels=range(4))
    assert LOSSES["log_loss"](y, prob, weights) == pytest.approx(expected)


def test_binary_log_loss_of_one_column_equals_the_two_class_log_loss():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.01, 0.99, size=(25, 1))
    y = rng.integers(0, 2, size=(25, 1)).astype(float)
    two_columns = LOSSES["log_loss"](np.hstack([1 - y, y]), np.hstack([1 - p, p]))
    assert LOSSES["binary_log_loss"](y, p) == pytest.approx(two_columns)


def test_squared_error_is_half_the_mse_summed_over_outputs():
    rng = np.random.default_rng(2)
    y, pred = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    expected = 0.5 * 3 * mean_squared_error(y, pred)
    assert LOSSES["squared_error"](y, pred) == pytest.approx(expected)


def test_poisson_is_half_the_mean_deviance():
    rng = np.random.default_rng(3)
    y = rng.poisson(2.0, size=(40, 1)).astype(float)
    mu = rng.uniform(0.5, 4, size=(40, 1))
    expected = 0.5 * mean_poisson_deviance(y.ravel(), mu.ravel())
    assert LOSSES["poisson"](y, mu) == pytest.approx(expected)


def test_log_loss_is_finite_for_probabilities_of_exactly_zero():
    y = np.array([[1.0, 0.0]])
    prob = np.array([[0.0, 1.0]])
    assert np.isfinite(LOSSES["log_loss"](y, prob))


def test_sample_weights_of_zero_remove_a_row():
    y = np.array([[1.0], [5.0]])
    pred = np.array([[1.0], [0.0]])
    assert LOSSES["squared_error"](y, pred, np.array([1.0, 0.0])) == 0.0


# -- a new loss is one class ------------------------------------------------
TOY = "test_scaled_squared_error"


@pytest.fixture
def toy_loss():
    """A loss defined in this file alone: three times half the squared error.

    Defining the class registers it; the registration is removed afterwards
    so that no other test sees it.
    """

    class ScaledSquaredError(Loss):
        name = TOY
        output_activation = "identity"
        estimator = "regressor"
        scale = 3.0

        def per_sample(self, y, output):
            return self.scale * 0.5 * np.sum((output - y) ** 2, axis=1)

        def output_gradient(self, output, y, out):
            np.subtract(output, y, out=out)
            out *= self.scale
            return out

    try:
        yield LOSSES[TOY]
    finally:
        del LOSSES[TOY]


def _toy_fit(solver, max_iter):
    X, y = make_regression(n_samples=120, n_features=5, noise=1.0, random_state=0)
    y = (y - y.mean()) / y.std()
    model = DropoutMLPRegressor(
        hidden_layer_sizes=(16,),
        solver=solver,
        dropout_rate=0.0 if solver == "lbfgs" else 0.1,
        learning_rate_init=0.01,
        alpha=0.0,  # loss_ without the L2 term: the toy loss alone
        max_iter=max_iter,
        random_state=0,
    ).set_params(loss=TOY)
    return model.fit(X, y), X, y


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_loss_defined_in_a_test_file_trains_a_regressor(toy_loss, solver):
    short, _, _ = _toy_fit(solver, max_iter=2)
    model, X, y = _toy_fit(solver, max_iter=40)
    assert model.out_activation_ == toy_loss.output_activation
    # The fit descends the toy loss, with its gradient.
    assert model.loss_ < 0.5 * short.loss_
    if solver == "lbfgs":
        # Without dropout the reported loss is the toy's value at the
        # returned weights: three times half the mean squared error.
        half_mse = 0.5 * np.mean((model.predict(X) - y) ** 2)
        assert model.loss_ == pytest.approx(3.0 * half_mse, rel=1e-6, abs=1e-9)


def test_an_unregistered_loss_is_refused():
    # The fixture above removed its loss: the regressor no longer accepts it.
    assert TOY not in LOSSES
    with pytest.raises(InvalidParameterError, match="loss"):
        DropoutMLPRegressor(loss=TOY).fit(np.zeros((4, 2)), np.zeros(4))


def test_the_output_delta_is_the_weighted_mean_gradient():
    rng = np.random.default_rng(4)
    y, output = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    sw = rng.uniform(0.5, 2.0, size=6)
    out = np.empty_like(output)
    delta = output_delta(LOSSES["squared_error"], output, y, sw, sw.sum(), out)
    expected = (output - y) * sw[:, np.newaxis] / sw.sum()
    np.testing.assert_allclose(delta, expected)
