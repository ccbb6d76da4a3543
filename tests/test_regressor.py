"""DropoutMLPRegressor: targets, losses, return_std and the validation R².

The Monte Carlo passes behind return_std: test_prediction.py; the noise
variance it adds: test_noise_variance.py."""

import numpy as np
import pytest
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import r2_score

from skdrop import DropoutMLPRegressor
from skdrop._regressor import coefficient_of_determination

# 60 epochs at ten times the default rate: R² 0.998 and 0.999 below, as 300
# epochs of the default rate gave, in a quarter of the time.
QUICK = dict(max_iter=60, learning_rate_init=0.01, random_state=0)


def test_single_output_regression_fits(regression):
    X, y = regression
    reg = DropoutMLPRegressor(**QUICK).fit(X, y)
    assert reg.out_activation_ == "identity"
    assert reg.predict(X).shape == (200,)
    assert reg.score(X, y) > 0.9


def test_multi_output_regression(regression):
    X, y = regression
    Y = np.column_stack([y, -2 * y])
    reg = DropoutMLPRegressor(**QUICK).fit(X, Y)
    assert reg.n_outputs_ == 2
    assert reg.predict(X).shape == (200, 2)
    assert reg.score(X, Y) > 0.8


def test_column_vector_target_warns_and_is_raveled(regression):
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


# -- noise_variance_ and return_std --------------------------------------
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_std_is_at_least_the_noise(n_outputs):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6))
    y = X[:, :n_outputs] + 0.3 * rng.standard_normal((120, n_outputs))
    y = y.ravel() if n_outputs == 1 else y
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(16,), dropout_rate=0.3, max_iter=20, random_state=0
    ).fit(X, y)
    _, std = reg.predict(X, return_std=True)
    assert reg.noise_variance_.shape == (n_outputs,)
    assert (reg.noise_variance_ > 0).all()
    floor = np.sqrt(reg.noise_variance_)
    assert (std.reshape(len(X), -1) >= floor * (1 - 1e-12)).all()
    # And strictly above it: the Monte Carlo spread is included.
    assert (std.reshape(len(X), -1) > floor).all()
    samples = reg.predict_samples(X, n_samples=30, random_state=reg._mc_seed)
    model_var = samples.var(axis=0).reshape(len(X), -1)
    np.testing.assert_allclose(
        std.reshape(len(X), -1) ** 2, model_var + reg.noise_variance_, rtol=1e-6
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_validation_r2_is_scikit_learns(weighted):
    rng = np.random.default_rng(0)
    y = rng.normal(size=(30, 3))
    y[:, 2] = 1.0  # a constant output: scored 0, or 1 when predicted exactly
    prediction = y + rng.normal(scale=0.5, size=y.shape)
    weights = rng.uniform(0.1, 2, size=30) if weighted else None
    expected = r2_score(y, prediction, sample_weight=weights)
    assert coefficient_of_determination(y, prediction, weights) == pytest.approx(
        expected
    )
    prediction[:, 2] = 1.0
    expected = r2_score(y, prediction, sample_weight=weights)
    assert coefficient_of_determination(y, prediction, weights) == pytest.approx(
        expected
    )
