"""Loss values: sample-weighted means over samples of sums over outputs."""

import numpy as np
import pytest
from sklearn.metrics import log_loss as sklearn_log_loss
from sklearn.metrics import mean_poisson_deviance, mean_squared_error

from skdrop._core.losses import LOSSES


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
