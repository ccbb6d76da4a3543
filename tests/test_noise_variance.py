"""The regressor's noise variance (skdrop/_noise_variance.py): the likelihood
search, the estimates at the end of a fit (held-out rows, else one thinned
network's training residuals), and ``estimate_noise_variance``.
"""

import copy
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from support import quietly, small_problem

from skdrop import DropoutMLPRegressor
from skdrop._noise_variance import best_noise_variance
from skdrop._regressor import DropoutMLPRegressor as _Regressor


# -- the likelihood search -------------------------------------------------
def test_without_model_variance_the_best_noise_is_the_mean_squared_residual():
    # log(s) + r**2 / s, averaged over the rows, is smallest at s = mean(r**2).
    residuals = np.random.default_rng(0).normal(scale=0.7, size=500)
    best = best_noise_variance(residuals, np.zeros(500))
    assert best == pytest.approx(np.mean(residuals**2), rel=2e-3)


def test_the_model_variance_is_not_counted_twice():
    residuals = np.random.default_rng(1).normal(size=400)
    residuals /= np.sqrt(np.mean(residuals**2))  # mean squared residual 1
    best = best_noise_variance(residuals, np.full(400, 0.4))
    assert best == pytest.approx(0.6, rel=2e-3)


def test_weights_of_zero_leave_rows_out():
    residuals = np.random.default_rng(2).normal(size=300)
    weights = np.r_[np.ones(100), np.zeros(200)]
    best = best_noise_variance(residuals, np.zeros(300), weights)
    assert best == pytest.approx(np.mean(residuals[:100] ** 2), rel=2e-3)


def test_a_model_variance_that_covers_the_residuals_leaves_almost_no_noise():
    residuals = np.random.default_rng(3).normal(size=200)
    scale = np.mean(residuals**2)
    best = best_noise_variance(residuals, np.full(200, 10 * scale))
    assert 0 < best < 1e-5 * scale


# -- the estimates of fit and estimate_noise_variance ----------------------
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
    # 300 epochs, not max_iter='auto' (657): 0.36 against a residual of 0.24.
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(64,), max_iter=300, random_state=0
    ).fit(X, y)
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
    # 300 epochs (0.30), not max_iter='auto' (957 epochs, 0.33): the test
    # is about where the noise is measured, not how long training runs.
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(32,), early_stopping=True, max_iter=300, random_state=0
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


def _coverage(reg, seed=2):
    X_test, y_test = _overfitting_problem(seed=seed)
    mean, std = reg.predict(X_test, return_std=True)
    return np.mean(np.abs(y_test - mean) <= 1.96 * std)


def test_return_std_covers_held_out_data():
    # The point of the held-out noise estimate: about 95 % of new targets
    # fall in mean +- 1.96 std even when the network overfits.
    X, y = _overfitting_problem(seed=1)
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(64, 64), max_iter=150, random_state=0
    ).fit(X, y)
    reg.estimate_noise_variance(X, y)
    assert _coverage(reg) > 0.85


def _fit_closely(**params):
    X, y = _overfitting_problem(seed=1)
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(128, 128),
        learning_rate_init=0.01,
        max_iter=300,
        n_iter_no_change=np.inf,
        random_state=0,
        **params,
    )
    return reg.fit(X, y), np.mean((y - reg.predict(X)) ** 2)


def test_noise_variance_covers_when_the_network_fits_its_rows_closely():
    # Wide layers trained long on 150 noisy rows: the whole network's
    # training residual (0.14) falls well below the noise variance 0.25 and
    # would cover 86 % of new rows; the thinned networks' residual keeps the
    # 95 % interval near 95 %.
    reg, training_mse = _fit_closely()
    assert training_mse < 0.15
    assert reg.noise_variance_[0] > training_mse
    assert _coverage(reg) > 0.9


def test_learned_rates_measure_the_noise_on_held_out_rows():
    reg, _ = _fit_closely(dropout_rate="auto")
    assert len(reg.validation_scores_) == reg.n_iter_
    assert _coverage(reg) > 0.9


def test_held_out_noise_is_scaled_by_the_optimism_of_early_stopping(monkeypatch):
    # The epoch is chosen on the held-out rows, which flatters them: the
    # noise variance is at least the likelihood-maximising one on those rows.
    X, y = _overfitting_problem(seed=1)
    captured = {}
    plain = _Regressor._held_out_noise_variance

    def capture(self, *validation):
        captured["value"] = plain(self, *validation)
        return captured["value"].copy()

    monkeypatch.setattr(_Regressor, "_held_out_noise_variance", capture)
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(32,), early_stopping=True, random_state=0
    ).fit(X, y)
    assert not hasattr(reg, "_selection_optimism")
    assert (reg.noise_variance_ >= captured["value"]).all()


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


def test_noise_variance_with_tiny_sample_weights():
    X, _, y = small_problem()
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(3,), alpha=0.0, max_iter=3, random_state=0
    )
    weighted = quietly(reg.fit, X, y / 1e3, sample_weight=np.full(len(X), 1e-320))
    variance = weighted.noise_variance_.copy()
    plain = quietly(reg.fit, X, y / 1e3)
    np.testing.assert_allclose(variance, plain.noise_variance_, rtol=1e-6)
    assert (variance > 0).all()


def test_concurrent_noise_estimates_leave_the_warning_filters_as_they_were():
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    reg.fit(X, y)
    before = list(warnings.filters)

    def estimate(_):
        copy.deepcopy(reg).estimate_noise_variance(X, y)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(estimate, range(16)))
    assert warnings.filters == before
