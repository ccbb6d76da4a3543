"""DropoutMLPRegressor: targets, losses, noise_variance_ and return_std.

The Monte Carlo passes behind return_std: test_prediction.py."""

import copy
import pickle

import numpy as np
import pytest
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import r2_score

from skdrop import DropoutMLPRegressor
from skdrop._regressor import DropoutMLPRegressor as _Regressor
from skdrop._regressor import coefficient_of_determination


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


def _overfitting_problem(seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(150, 3))
    y = np.sin(X[:, 0]) + X[:, 1] + noise * rng.standard_normal(150)
    return X, y


def test_fit_measures_noise_on_training_rows_and_trains_one_network(monkeypatch):
    fits = []
    original = _Regressor._fit_unguarded

    def counting(self, *args, **kwargs):
        fits.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_Regressor, "_fit_unguarded", counting)
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(16,), max_iter=20, random_state=0)
    reg.fit(X, y)
    assert fits == [reg]
    assert reg.noise_variance_[0] == pytest.approx(_thinned_residual(reg, X, y))


def _thinned_residual(reg, X, y):
    """Mean squared residual of one Monte Carlo pass per training row."""
    sample = reg.predict_samples(X, n_samples=1, random_state=reg._mc_seed)[0]
    return np.mean((y - sample) ** 2)


def test_noise_estimate_without_held_out_rows_is_above_the_training_residual():
    # The whole network fits its training rows more closely than its thinned
    # networks do: their residual is the upper, safer estimate.
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(64,), random_state=0).fit(X, y)
    assert reg.noise_variance_[0] > np.mean((y - reg.predict(X)) ** 2)


def test_estimate_noise_variance_is_held_out_not_training_residuals():
    # A wide network memorises noisy data: training residuals shrink far
    # below the true noise variance 0.25, the held-out estimate does not.
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(64, 64),
        dropout_rate=0.0,
        learning_rate_init=0.01,
        max_iter=300,
        random_state=0,
    ).fit(X, y)
    training_mse = np.mean((y - reg.predict(X)) ** 2)
    assert training_mse < 0.1
    assert reg.noise_variance_[0] == pytest.approx(training_mse, rel=1e-10)
    coefs = [c.copy() for c in reg.coefs_]
    assert reg.estimate_noise_variance(X, y) is reg
    assert reg.noise_variance_[0] > 0.2
    assert reg.noise_variance_[0] > 2 * training_mse
    for before, after in zip(coefs, reg.coefs_, strict=True):
        np.testing.assert_array_equal(before, after)


def test_estimate_noise_variance_is_reproducible():
    X, y = _overfitting_problem()
    params = {"hidden_layer_sizes": (16,), "max_iter": 10, "random_state": 3}
    first = DropoutMLPRegressor(**params).fit(X, y).estimate_noise_variance(X, y)
    second = DropoutMLPRegressor(**params).fit(X, y).estimate_noise_variance(X, y)
    np.testing.assert_array_equal(first.noise_variance_, second.noise_variance_)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, "half"])
def test_estimate_noise_variance_refuses_bad_fractions(fraction):
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    reg.fit(X, y)
    with pytest.raises(ValueError, match="holdout_fraction"):
        reg.estimate_noise_variance(X, y, holdout_fraction=fraction)


def test_estimate_noise_variance_needs_enough_held_out_rows():
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    reg.fit(X[:12], y[:12])
    with pytest.raises(ValueError, match="at least 5"):
        reg.estimate_noise_variance(X[:12], y[:12])


@pytest.mark.parametrize("seed", range(6))
def test_fit_with_one_nonzero_weight_gives_a_noise_variance(seed):
    # The hidden second fit used to fail on such weights ("at least one
    # non-zero number"); one fit measures the residuals on the rows it has.
    X, y = _overfitting_problem(seed)
    weights = np.zeros(len(y))
    weights[seed] = 1.0
    reg = DropoutMLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=seed)
    reg.fit(X, y, sample_weight=weights)
    assert np.isfinite(reg.noise_variance_).all()


def test_early_stopping_measures_noise_on_validation_rows():
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(32,), early_stopping=True, random_state=0
    ).fit(X, y)
    assert 0.1 < reg.noise_variance_[0] < 1.0


def test_partial_fit_uses_training_residuals():
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(16,), random_state=0)
    reg.partial_fit(X, y)
    assert reg.noise_variance_[0] == pytest.approx(_thinned_residual(reg, X, y))


def test_tiny_data_fall_back_to_training_residuals():
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    reg.fit(X[:12], y[:12])
    expected = _thinned_residual(reg, X[:12], y[:12])
    assert reg.noise_variance_[0] == pytest.approx(expected)


def test_return_std_covers_held_out_data():
    # The point of the held-out noise estimate: about 95 % of new targets
    # fall in mean +- 1.96 std even when the network overfits.
    X, y = _overfitting_problem(seed=1)
    X_test, y_test = _overfitting_problem(seed=2)
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(256, 256), max_iter=300, random_state=0
    ).fit(X, y)
    reg.estimate_noise_variance(X, y)
    mean, std = reg.predict(X_test, return_std=True)
    coverage = np.mean(np.abs(y_test - mean) <= 1.96 * std)
    assert coverage > 0.85


def test_return_std_works_and_agrees_on_copies_of_a_model():
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    reg.fit(X, y)
    expected = reg.predict(X[:5], return_std=True)
    for twin in (copy.deepcopy(reg), pickle.loads(pickle.dumps(reg))):
        for got, want in zip(
            twin.predict(X[:5], return_std=True), expected, strict=True
        ):
            np.testing.assert_array_equal(got, want)


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
