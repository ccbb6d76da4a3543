"""Monte Carlo dropout: predict_samples, return_std, noise_variance_ and the
uncertainty helpers of :mod:`skdrop.uncertainty`."""

import doctest
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning

import skdrop._network
import skdrop.uncertainty
from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._noise import NOISE
from skdrop._regressor import DropoutMLPRegressor as _Regressor
from skdrop.uncertainty import (
    expected_entropy,
    mutual_information,
    predictive_entropy,
)

DROPOUT_TYPES = list(NOISE)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6))
    return X, rng


def _fit(Estimator, X, y, **params):
    params = {"hidden_layer_sizes": (16,), "max_iter": 20, "random_state": 0, **params}
    return Estimator(**params).fit(X, y)


# -- shapes ------------------------------------------------------------------


def _classification_targets(X, problem):
    if problem == "binary":
        return (X[:, 0] > 0).astype(int), 2
    if problem == "multiclass":
        return np.digitize(X[:, 0], [-0.5, 0.5]), 3
    return (X[:, :4] > 0).astype(int), 4  # multilabel, 4 labels


@pytest.mark.parametrize("problem", ["binary", "multiclass", "multilabel"])
def test_classifier_samples_shape_and_probabilities(data, problem):
    X, _ = data
    y, n_columns = _classification_targets(X, problem)
    clf = _fit(DropoutMLPClassifier, X, y)
    samples = clf.predict_samples(X[:7], n_samples=5, random_state=0)
    assert samples.shape == (5, 7, n_columns)
    assert np.all((samples >= 0) & (samples <= 1))
    if problem != "multilabel":
        np.testing.assert_allclose(samples.sum(axis=-1), 1.0, rtol=1e-12)
    assert clf.predict_samples(X[:7]).shape == (30, 7, n_columns)


@pytest.mark.parametrize("n_outputs", [None, 1, 3])
def test_regressor_samples_shape(data, n_outputs):
    X, _ = data
    # None: a 1-D y; 1: a column y of shape (n, 1), squeezed like sklearn's.
    y = X[:, 0] if n_outputs is None else X[:, :n_outputs]
    expected = (4, 9, n_outputs) if n_outputs == 3 else (4, 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataConversionWarning)
        reg = _fit(DropoutMLPRegressor, X, y)
    assert reg.predict_samples(X[:9], n_samples=4, random_state=0).shape == expected
    mean, std = reg.predict(X[:9], return_std=True)
    assert mean.shape == std.shape == expected[1:]
    assert reg.predict(X[:9]).shape == expected[1:]


def test_predict_samples_accepts_sparse_and_float32(data):
    X, _ = data
    y = X[:, 1]
    reg = _fit(DropoutMLPRegressor, X.astype(np.float32), y)
    samples = reg.predict_samples(sp.csr_matrix(X[:5]), n_samples=3, random_state=0)
    assert samples.shape == (3, 5)
    assert np.isfinite(samples).all()


@pytest.mark.parametrize("n_samples", [0, -1, 2.5, "3"])
def test_invalid_n_samples_raises(data, n_samples):
    X, _ = data
    reg = _fit(DropoutMLPRegressor, X, X[:, 0])
    with pytest.raises(ValueError, match="n_samples"):
        reg.predict_samples(X, n_samples=n_samples)


# -- reproducibility -----------------------------------------------------------


@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_int_random_state_reproduces_and_seeds_differ(data, Estimator):
    X, _ = data
    model = _fit(Estimator, X, (X[:, 0] > 0).astype(int))
    first = model.predict_samples(X, n_samples=6, random_state=42)
    again = model.predict_samples(X, n_samples=6, random_state=42)
    other = model.predict_samples(X, n_samples=6, random_state=43)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    # Passes within one call differ from each other too.
    assert not np.allclose(first[0], first[1])


def test_random_state_instance_advances(data):
    X, _ = data
    reg = _fit(DropoutMLPRegressor, X, X[:, 0])
    rs = np.random.RandomState(0)
    first = reg.predict_samples(X, n_samples=3, random_state=rs)
    second = reg.predict_samples(X, n_samples=3, random_state=rs)
    assert not np.allclose(first, second)


def test_return_std_is_deterministic(data):
    X, _ = data
    reg = _fit(DropoutMLPRegressor, X, X[:, 0])
    mean1, std1 = reg.predict(X, return_std=True)
    mean2, std2 = reg.predict(X, return_std=True)
    np.testing.assert_array_equal(mean1, mean2)
    np.testing.assert_array_equal(std1, std2)


def test_chunked_rows_give_valid_reproducible_samples(data, monkeypatch):
    # A chunk budget of a few rows forces many chunks per pass.
    X, _ = data
    reg = _fit(DropoutMLPRegressor, X, X[:, 0], dropout_rate=0.0)
    deterministic = reg.predict(X)
    monkeypatch.setattr(skdrop._network, "PREDICT_CHUNK_BYTES", 16 * 8 * 7)
    assert reg._prediction_network(np.float64).predict_chunk_rows() == 7
    samples = reg.predict_samples(X, n_samples=3, random_state=0)
    np.testing.assert_allclose(samples, np.broadcast_to(deterministic, (3, 120)))

    noisy = _fit(DropoutMLPRegressor, X, X[:, 0], dropout_rate=0.3)
    a = noisy.predict_samples(X, n_samples=3, random_state=5)
    b = noisy.predict_samples(X, n_samples=3, random_state=5)
    np.testing.assert_array_equal(a, b)
    assert (a.std(axis=0) > 0).all()


# -- spread ------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_no_dropout_means_no_spread(data, Estimator):
    X, _ = data
    model = _fit(
        Estimator, X, (X[:, 0] > 0).astype(int), dropout_rate=0.0, solver="lbfgs"
    )
    samples = model.predict_samples(X, n_samples=5, random_state=0)
    # Every pass is bit for bit the same (np.std itself would show rounding
    # noise of 1e-16 from the mean).
    np.testing.assert_array_equal(samples, np.broadcast_to(samples[0], samples.shape))
    if Estimator is DropoutMLPClassifier:
        np.testing.assert_allclose(samples[0], model.predict_proba(X))
        np.testing.assert_allclose(mutual_information(samples), 0.0, atol=1e-15)
    else:
        np.testing.assert_allclose(samples[0], model.predict(X))
        _, std = model.predict(X, return_std=True)
        np.testing.assert_allclose(std, np.sqrt(model.noise_variance_[0]))


@pytest.mark.parametrize(
    "params",
    [
        *({"dropout_type": kind, "activation": "selu"} for kind in DROPOUT_TYPES),
        {"dropout_rate": 0.0, "input_dropout_rate": 0.2},
        {"hidden_layer_sizes": (8, 8), "dropout_rate": (0.0, 0.3)},
    ],
)
@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_dropout_gives_positive_spread_on_every_row(data, Estimator, params):
    X, _ = data
    model = _fit(Estimator, X, (X[:, 0] > 0).astype(int), **params)
    samples = model.predict_samples(X, n_samples=10, random_state=0)
    spread = samples.std(axis=0)
    if Estimator is DropoutMLPClassifier:
        assert (spread.max(axis=-1) > 0).all()
        assert (mutual_information(samples) > 0).all()
    else:
        assert (spread > 0).all()


# -- return_std and noise_variance_ ---------------------------------------------


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_std_is_at_least_the_noise(data, n_outputs):
    X, rng = data
    y = X[:, :n_outputs] + 0.3 * rng.standard_normal((120, n_outputs))
    y = y.ravel() if n_outputs == 1 else y
    reg = _fit(DropoutMLPRegressor, X, y, dropout_rate=0.3)
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
    expected = np.mean((y - reg.predict(X)) ** 2)
    assert reg.noise_variance_[0] == pytest.approx(expected, rel=1e-10)


def test_estimate_noise_variance_is_held_out_not_training_residuals():
    # A wide network memorises noisy data: training residuals shrink far
    # below the true noise variance 0.25, the held-out estimate does not.
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(256, 256),
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


def test_noise_variance_is_reproducible():
    X, y = _overfitting_problem()
    params = {"hidden_layer_sizes": (32,), "max_iter": 30, "random_state": 3}
    first = DropoutMLPRegressor(**params).fit(X, y).noise_variance_
    second = DropoutMLPRegressor(**params).fit(X, y).noise_variance_
    np.testing.assert_array_equal(first, second)


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
    expected = np.mean((y - reg.predict(X)) ** 2)
    assert reg.noise_variance_[0] == pytest.approx(expected, rel=1e-10)


def test_tiny_data_fall_back_to_training_residuals():
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    reg.fit(X[:12], y[:12])
    expected = np.mean((y[:12] - reg.predict(X[:12])) ** 2)
    assert reg.noise_variance_[0] == pytest.approx(expected, rel=1e-10)


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
    import copy
    import pickle

    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    reg.fit(X, y)
    expected = reg.predict(X[:5], return_std=True)
    for twin in (copy.deepcopy(reg), pickle.loads(pickle.dumps(reg))):
        for got, want in zip(
            twin.predict(X[:5], return_std=True), expected, strict=True
        ):
            np.testing.assert_array_equal(got, want)


# -- uncertainty helpers -------------------------------------------------------


def test_entropies_on_hand_built_samples():
    # Row 0: passes confident and disagreeing. Row 1: passes agree on (0.5,
    # 0.5). Row 2: passes agree on certainty. Row 3: three classes, uniform.
    samples = np.array(
        [
            [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [1 / 3, 1 / 3, 1 / 3]],
            [[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [1 / 3, 1 / 3, 1 / 3]],
        ]
    )
    log2, log3 = np.log(2), np.log(3)
    np.testing.assert_allclose(predictive_entropy(samples), [log2, log2, 0, log3])
    np.testing.assert_allclose(expected_entropy(samples), [0, log2, 0, log3])
    np.testing.assert_allclose(mutual_information(samples), [log2, 0, 0, 0], atol=1e-15)


def test_entropies_of_a_two_point_mixture():
    # Passes (0.9, 0.1) and (0.5, 0.5): the mean is (0.7, 0.3).
    samples = np.array([[[0.9, 0.1]], [[0.5, 0.5]]])

    def h(p):
        return -(p * np.log(p) + (1 - p) * np.log(1 - p))

    np.testing.assert_allclose(predictive_entropy(samples), [h(0.7)])
    np.testing.assert_allclose(expected_entropy(samples), [(h(0.9) + h(0.5)) / 2])
    np.testing.assert_allclose(
        mutual_information(samples), [h(0.7) - (h(0.9) + h(0.5)) / 2]
    )


def test_multilabel_entropy_sums_binary_entropies():
    samples = np.array([[[0.5, 1.0]], [[0.5, 0.0]]])  # label 1 disagrees
    log2 = np.log(2)
    np.testing.assert_allclose(predictive_entropy(samples, multilabel=True), [2 * log2])
    np.testing.assert_allclose(expected_entropy(samples, multilabel=True), [log2])
    np.testing.assert_allclose(mutual_information(samples, multilabel=True), [log2])


def test_helpers_on_real_samples_decompose_and_are_bounded(data):
    X, _ = data
    y, _ = _classification_targets(X, "multiclass")
    clf = _fit(DropoutMLPClassifier, X, y)
    samples = clf.predict_samples(X, n_samples=20, random_state=0)
    total, aleatoric = predictive_entropy(samples), expected_entropy(samples)
    information = mutual_information(samples)
    np.testing.assert_allclose(total, aleatoric + information, atol=1e-12)
    assert (information >= 0).all()
    assert (total <= np.log(3) + 1e-12).all()


@pytest.mark.parametrize(
    "bad", [np.ones((2, 3)), np.full((2, 2, 2), 1.5), np.full((1, 1, 2), np.nan)]
)
def test_helpers_reject_invalid_input(bad):
    for function in (predictive_entropy, expected_entropy, mutual_information):
        with pytest.raises(ValueError, match="proba_samples"):
            function(bad)


def test_uncertainty_doctests():
    result = doctest.testmod(skdrop.uncertainty, raise_on_error=False)
    assert result.attempted >= 6
    assert result.failed == 0


def test_helpers_are_exported():
    import skdrop

    for name in ("predictive_entropy", "expected_entropy", "mutual_information"):
        assert getattr(skdrop, name) is getattr(skdrop.uncertainty, name)


def test_passes_stacked_for_few_rows_all_draw_their_own_masks():
    """Few rows are repeated to stack passes into one forward call; every
    pass must still differ, and the stacking must not change the shape."""
    X, y = _overfitting_problem()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(64,), max_iter=5, random_state=0)
    reg.fit(X, y)
    samples = reg.predict_samples(X[:2], n_samples=200, random_state=0)
    assert samples.shape == (200, 2)
    assert len(np.unique(samples[:, 0])) == 200
    np.testing.assert_array_equal(
        samples, reg.predict_samples(X[:2], n_samples=200, random_state=0)
    )
