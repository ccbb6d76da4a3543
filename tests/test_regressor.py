"""DropoutMLPRegressor: targets, losses, and the dropout default."""

import numpy as np
import pytest
from sklearn.datasets import make_regression

from skdrop import DropoutMLPRegressor


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    return X, y / y.std()


def test_single_output_regression_fits(regression):
    X, y = regression
    reg = DropoutMLPRegressor(max_iter=300, random_state=0).fit(X, y)
    assert reg.out_activation_ == "identity"
    assert reg.predict(X).shape == (200,)
    assert reg.score(X, y) > 0.9


def test_multi_output_regression(regression):
    X, y = regression
    Y = np.column_stack([y, -2 * y])
    reg = DropoutMLPRegressor(max_iter=300, random_state=0).fit(X, Y)
    assert reg.n_outputs_ == 2
    assert reg.predict(X).shape == (200, 2)
    assert reg.score(X, Y) > 0.8


def test_column_vector_target_warns_and_is_raveled(regression):
    from sklearn.exceptions import DataConversionWarning

    X, y = regression
    with pytest.warns(DataConversionWarning):
        reg = DropoutMLPRegressor(max_iter=5).fit(X, y.reshape(-1, 1))
    assert reg.predict(X).ndim == 1


def test_poisson_loss_predicts_positive_means():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0]))
    reg = DropoutMLPRegressor(loss="poisson", max_iter=100, random_state=0).fit(X, y)
    assert reg.out_activation_ == "exp"
    assert (reg.predict(X) > 0).all()


def test_poisson_loss_rejects_negative_targets(regression):
    X, y = regression
    with pytest.raises(ValueError, match="negative"):
        DropoutMLPRegressor(loss="poisson").fit(X, y)


def test_predict_without_return_std_is_the_deterministic_network(regression):
    X, y = regression
    reg = DropoutMLPRegressor(dropout_rate=0.3, max_iter=20, random_state=0).fit(X, y)
    h = np.maximum(X @ reg.coefs_[0] + reg.intercepts_[0], 0)
    expected = (h @ reg.coefs_[1] + reg.intercepts_[1]).ravel()
    np.testing.assert_allclose(reg.predict(X), expected, rtol=1e-10)
