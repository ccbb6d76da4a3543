"""Prediction with the fitted weights: the whole network without masks, and
Monte Carlo dropout (predict_samples, the passes behind return_std).

A finite model never predicts NaN (probabilities and log-probabilities stay
finite for logits of +-1e4; an overflowing output is an error), and
prediction memory does not grow with the number of rows.

The noise variance that return_std adds: test_noise_variance.py. The passes
on a bare network: test_montecarlo.py.
"""

import tracemalloc
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning
from support import small_problem

import skdrop._core.network
from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._core.activations import SELU_ALPHA, SELU_SCALE
from skdrop._core.noise import NOISE
from skdrop.uncertainty import (
    expected_entropy,
    mutual_information,
    predictive_entropy,
)

DROPOUT_TYPES = list(NOISE)


@pytest.fixture(scope="module")
def X():
    """120 rows of 6 standard normal features; targets are made from them."""
    X = np.random.default_rng(0).standard_normal((120, 6))
    X.flags.writeable = False
    return X


# -- the whole network, without masks ------------------------------------
def _selu(Z):
    return SELU_SCALE * np.where(Z > 0, Z, SELU_ALPHA * np.expm1(np.minimum(Z, 0)))


def _softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("kind", DROPOUT_TYPES)
@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_predict_uses_the_unscaled_whole_network(Estimator, kind):
    """Inverted dropout (and mean-one Gaussian noise) needs no rescaling at
    prediction: predict is the plain forward pass with the fitted weights,
    the same at every call."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 6))
    target = X @ rng.standard_normal(6)
    y = np.digitize(target, [-1, 1]) if Estimator is DropoutMLPClassifier else target
    model = Estimator(
        hidden_layer_sizes=(20, 20),
        activation="selu" if kind == "alpha" else "tanh",
        dropout_type=kind,
        dropout_rate=0.4,
        input_dropout_rate=0.2,
        max_iter=20,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 20 epochs do not converge
        model.fit(X, y)
    hidden = _selu if kind == "alpha" else np.tanh
    A = X
    for W, b in zip(model.coefs_[:-1], model.intercepts_[:-1], strict=True):
        A = hidden(A @ W + b)
    logits = A @ model.coefs_[-1] + model.intercepts_[-1]
    if Estimator is DropoutMLPClassifier:
        first = model.predict_proba(X)
        np.testing.assert_allclose(first, _softmax(logits), rtol=1e-10)
        np.testing.assert_array_equal(model.predict_proba(X), first)
    else:
        first = model.predict(X)
        np.testing.assert_allclose(first, logits[:, 0], rtol=1e-10)
        np.testing.assert_array_equal(model.predict(X), first)


def test_concurrent_prediction_on_one_estimator(X):
    """Many threads predicting with one fitted estimator agree with one thread."""
    estimator = _fit(DropoutMLPClassifier, X, (X[:, 0] > 0).astype(int))

    def predictions(_):
        samples = estimator.predict_samples(X, n_samples=3, random_state=7)
        return estimator.predict_proba(X).tobytes(), samples.tobytes()

    expected = predictions(None)
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(result == expected for result in pool.map(predictions, range(8)))


# -- Monte Carlo dropout ---------------------------------------------------
def _fit(Estimator, X, y, **params):
    params = {"hidden_layer_sizes": (16,), "max_iter": 20, "random_state": 0, **params}
    return Estimator(**params).fit(X, y)


def _classification_targets(X, problem):
    if problem == "binary":
        return (X[:, 0] > 0).astype(int), 2
    if problem == "multiclass":
        return np.digitize(X[:, 0], [-0.5, 0.5]), 3
    return (X[:, :4] > 0).astype(int), 4  # multilabel, 4 labels


@pytest.mark.parametrize("problem", ["binary", "multiclass", "multilabel"])
def test_classifier_samples_shape_and_probabilities(X, problem):
    y, n_columns = _classification_targets(X, problem)
    clf = _fit(DropoutMLPClassifier, X, y)
    samples = clf.predict_samples(X[:7], n_samples=5, random_state=0)
    assert samples.shape == (5, 7, n_columns)
    assert np.all((samples >= 0) & (samples <= 1))
    if problem != "multilabel":
        np.testing.assert_allclose(samples.sum(axis=-1), 1.0, rtol=1e-12)
    assert clf.predict_samples(X[:7]).shape == (30, 7, n_columns)


@pytest.mark.parametrize("n_outputs", [None, 1, 3])
def test_regressor_samples_shape(X, n_outputs):
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


def test_predict_samples_accepts_sparse_and_float32(X):
    y = X[:, 1]
    reg = _fit(DropoutMLPRegressor, X.astype(np.float32), y)
    samples = reg.predict_samples(sp.csr_matrix(X[:5]), n_samples=3, random_state=0)
    assert samples.shape == (3, 5)
    assert np.isfinite(samples).all()


@pytest.mark.parametrize("n_samples", [0, -1, 2.5, "3"])
def test_invalid_n_samples_raises(X, n_samples):
    reg = _fit(DropoutMLPRegressor, X, X[:, 0])
    with pytest.raises(ValueError, match="n_samples"):
        reg.predict_samples(X, n_samples=n_samples)


# -- reproducibility ----------------------------------------------------


@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_int_random_state_reproduces_and_seeds_differ(X, Estimator):
    model = _fit(Estimator, X, (X[:, 0] > 0).astype(int))
    first = model.predict_samples(X, n_samples=6, random_state=42)
    again = model.predict_samples(X, n_samples=6, random_state=42)
    other = model.predict_samples(X, n_samples=6, random_state=43)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    # Passes within one call differ from each other too.
    assert not np.allclose(first[0], first[1])


def test_random_state_instance_advances(X):
    reg = _fit(DropoutMLPRegressor, X, X[:, 0])
    rs = np.random.RandomState(0)
    first = reg.predict_samples(X, n_samples=3, random_state=rs)
    second = reg.predict_samples(X, n_samples=3, random_state=rs)
    assert not np.allclose(first, second)


def test_return_std_is_deterministic(X):
    reg = _fit(DropoutMLPRegressor, X, X[:, 0])
    mean1, std1 = reg.predict(X, return_std=True)
    mean2, std2 = reg.predict(X, return_std=True)
    np.testing.assert_array_equal(mean1, mean2)
    np.testing.assert_array_equal(std1, std2)


def test_chunked_rows_give_valid_reproducible_samples(X, monkeypatch):
    # A chunk budget of a few rows forces many chunks per pass.
    reg = _fit(DropoutMLPRegressor, X, X[:, 0], dropout_rate=0.0)
    deterministic = reg.predict(X)
    monkeypatch.setattr(skdrop._core.network, "PREDICT_CHUNK_BYTES", 16 * 8 * 7)
    assert reg._prediction_network(np.float64).predict_chunk_rows() == 7
    samples = reg.predict_samples(X, n_samples=3, random_state=0)
    np.testing.assert_allclose(samples, np.broadcast_to(deterministic, (3, 120)))

    noisy = _fit(DropoutMLPRegressor, X, X[:, 0], dropout_rate=0.3)
    a = noisy.predict_samples(X, n_samples=3, random_state=5)
    b = noisy.predict_samples(X, n_samples=3, random_state=5)
    np.testing.assert_array_equal(a, b)
    assert (a.std(axis=0) > 0).all()


# -- spread -------------------------------------------------------------


@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_no_dropout_means_no_spread(X, Estimator):
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
def test_dropout_gives_positive_spread_on_every_row(X, Estimator, params):
    model = _fit(Estimator, X, (X[:, 0] > 0).astype(int), **params)
    samples = model.predict_samples(X, n_samples=10, random_state=0)
    spread = samples.std(axis=0)
    if Estimator is DropoutMLPClassifier:
        assert (spread.max(axis=-1) > 0).all()
        assert (mutual_information(samples) > 0).all()
    else:
        assert (spread > 0).all()


def test_passes_stacked_for_few_rows_all_draw_their_own_masks(X):
    """Few rows are repeated to stack passes into one forward call; every
    pass must still differ, and the stacking must not change the shape."""
    reg = _fit(DropoutMLPRegressor, X, X[:, 0], hidden_layer_sizes=(64,), max_iter=5)
    samples = reg.predict_samples(X[:2], n_samples=200, random_state=0)
    assert samples.shape == (200, 2)
    assert len(np.unique(samples[:, 0])) == 200
    np.testing.assert_array_equal(
        samples, reg.predict_samples(X[:2], n_samples=200, random_state=0)
    )


# -- exact values of the uncertainty helpers on hand-built samples -------
# (skdrop.uncertainty's own file, test_uncertainty.py, checks their
# properties on generated samples and their input validation.)
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


def test_helpers_are_exported():
    import skdrop

    for name in ("predictive_entropy", "expected_entropy", "mutual_information"):
        assert getattr(skdrop, name) is getattr(skdrop.uncertainty, name)


# -- finite outputs for extreme logits, errors for overflow ----------------
def _hand_set(estimator, logit):
    """Weights that give logits of +-``logit`` for the rows of ``_extreme_X``."""
    for W in estimator.coefs_:
        W[...] = 0.0
    for b in estimator.intercepts_:
        b[...] = 0.0
    estimator.coefs_[0][0, 0] = 1.0  # hidden unit 0 copies feature 0 (relu)
    estimator.coefs_[0][1, 1] = 1.0  # hidden unit 1 copies feature 1
    estimator.coefs_[1][0, :] = logit
    estimator.coefs_[1][1, :] = -logit
    if estimator.coefs_[1].shape[1] > 1:
        estimator.coefs_[1][:, 0] *= -1


def _extreme_X():
    return np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("logit", [1e4, 1e6])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_extreme_logits_give_finite_probabilities(n_classes, logit, dtype):
    X = _extreme_X().astype(dtype)
    y = np.arange(4) % n_classes
    clf = DropoutMLPClassifier(
        hidden_layer_sizes=(2,), max_iter=1, dropout_rate=0.0, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    _hand_set(clf, logit)
    proba = clf.predict_proba(X)
    log_proba = clf.predict_log_proba(X)
    assert proba.shape == log_proba.shape == (4, n_classes)
    assert np.isfinite(proba).all() and np.isfinite(log_proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # Saturated rows are certain; log-probabilities keep the logit's scale.
    assert proba.max() == 1.0
    assert log_proba.min() <= -logit / 2
    np.testing.assert_allclose(np.exp(log_proba), proba, atol=1e-6)
    samples = clf.predict_samples(X, n_samples=4, random_state=0)
    assert np.isfinite(samples).all()
    assert clf.predict(X).shape == (4,)


def test_multilabel_extreme_logits_are_finite():
    X = _extreme_X()
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    clf = DropoutMLPClassifier(hidden_layer_sizes=(2,), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    _hand_set(clf, 1e4)
    assert np.isfinite(clf.predict_proba(X)).all()
    assert np.isfinite(clf.predict_log_proba(X)).all()


def test_overflowing_output_is_an_error_not_nan():
    """A finite model whose activations overflow refuses to answer."""
    X, _, y_reg = small_problem()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y_reg)
    reg.coefs_[0][...] = 1e300
    reg.coefs_[1][...] = 1e300
    overflow = "output contains infinity or NaN"
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(ValueError, match=overflow):
            reg.predict(np.ones((2, 3)))
        with pytest.raises(ValueError, match=overflow):
            reg.predict_samples(np.ones((2, 3)), n_samples=2)


# -- memory bounded whatever the number of rows ---------------------------
N_BIG = 2_000_000


# Scratch space beyond the returned array: the prediction chunk's buffers
# (activations, gradients, dropout masks), fixed whatever the number of rows.
EXTRA_BYTES = 64 * 2**20


# Growth of that scratch space from N_BIG / 4 to N_BIG rows: none is allowed
# beyond allocator noise, so no temporary proportional to the rows exists.
GROWTH_BYTES = 2 * 2**20


@pytest.fixture(scope="module")
def big_X():
    return np.random.default_rng(0).normal(size=(N_BIG, 2))


def _peak_extra(func):
    """The result of ``func()`` and its peak memory beyond the result."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = func()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak - result.nbytes


def _assert_bounded(predict, big_X):
    out_small, extra_small = _peak_extra(lambda: predict(big_X[: N_BIG // 4]))
    out_big, extra_big = _peak_extra(lambda: predict(big_X))
    assert out_big.nbytes == 4 * out_small.nbytes
    assert extra_big < EXTRA_BYTES, f"{extra_big / 2**20:.1f} MiB beyond the output"
    assert extra_big - extra_small < GROWTH_BYTES, (
        f"scratch memory grew by {(extra_big - extra_small) / 2**20:.1f} MiB "
        "with the number of rows"
    )
    return out_big


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_proba_memory_is_bounded(big_X, n_classes):
    X, y = big_X[:60], np.arange(60) % n_classes
    clf = DropoutMLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    proba = _assert_bounded(clf.predict_proba, big_X)
    assert proba.shape == (N_BIG, n_classes)


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_predict_samples_memory_is_bounded(big_X, cls):
    X = big_X[:60]
    y = np.arange(60) % 2 if cls is DropoutMLPClassifier else X[:, 0]
    est = cls(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    samples = _assert_bounded(
        lambda X: est.predict_samples(X, n_samples=2, random_state=0), big_X
    )
    assert samples.shape[:2] == (2, N_BIG)
