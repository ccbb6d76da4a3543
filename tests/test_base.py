"""BaseDropoutMLP, the fit orchestration shared by both estimators: parity
with scikit-learn's MLP parameters, skdrop's own parameter rules, how the
dropout settings reach the network, randomness (same random_state, same
model bit for bit), warm_start, sample weights, input types, max-norm.

Epochs, early stopping and partial_fit's records: test_stochastic.py."""

import inspect
import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.neural_network import MLPClassifier, MLPRegressor

import skdrop._base
import skdrop._prediction
from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._core.network import Network
from skdrop._core.noise import NOISE, RATE_RESOLUTION
from skdrop._core.optimizers import OPTIMIZERS

DROPOUT_PARAMS = ["dropout_rate", "input_dropout_rate", "dropout_type", "max_norm"]
PAIRS = [
    (DropoutMLPClassifier, MLPClassifier),
    (DropoutMLPRegressor, MLPRegressor),
]


# Defaults that differ from scikit-learn's, each a row of the parity table in
# docs/user_guide.rst: max_iter='auto' is 200 without dropout and lets small
# data sets reach 20,000 steps under dropout.
DIFFERENT_DEFAULTS = {"max_iter": "auto"}


def _params(cls):
    return list(inspect.signature(cls).parameters.values())


# -- parameter parity ---------------------------------------------------


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
def test_every_sklearn_parameter_has_the_same_default_and_position(ours, theirs):
    our_params, their_params = _params(ours), _params(theirs)
    assert [p.name for p in our_params[: len(their_params)]] == [
        p.name for p in their_params
    ]
    for mine, reference in zip(our_params, their_params, strict=False):
        expected = DIFFERENT_DEFAULTS.get(mine.name, reference.default)
        assert mine.default == expected, mine.name
        assert mine.kind == reference.kind, mine.name
    ours_only = [p.name for p in our_params[len(their_params) :]]
    assert ours_only[: len(DROPOUT_PARAMS)] == DROPOUT_PARAMS
    assert set(ours_only) <= set(ours._parameter_constraints)


@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_a_subclass_may_add_a_parameter_and_call_the_estimators_init(Estimator):
    class WithExtra(Estimator):
        def __init__(self, hidden_layer_sizes=(100,), *, extra=1):
            super().__init__(hidden_layer_sizes=hidden_layer_sizes)
            self.extra = extra

    model = WithExtra((3,), extra=2)
    assert model.get_params()["extra"] == 2
    assert model.hidden_layer_sizes == (3,) and model.solver == "adam"


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
def test_parameter_constraints_extend_sklearns(ours, theirs):
    for name in theirs._parameter_constraints:
        assert name in ours._parameter_constraints
    assert set(DROPOUT_PARAMS) <= set(ours._parameter_constraints)


# Only skdrop's own rules: the constraints shared with scikit-learn's MLP and
# the registries' options are checked by check_param_validation in
# test_sklearn_compat.py.
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"dropout_rate": [0.1, 0.2]}, "one per hidden layer"),
        ({"dropout_rate": [0.1, 1.5]}, "dropout_rate"),
        ({"dropout_rate": [0.1, -0.5]}, "dropout_rate"),
        ({"dropout_rate": ["a"]}, "dropout_rate"),
        ({"dropout_rate": [True]}, "dropout_rate"),
        ({"hidden_layer_sizes": [5, 0]}, "hidden_layer_sizes"),
    ],
)
def test_invalid_settings_raise_value_error_naming_the_parameter(
    classification, params, message
):
    X, y = classification
    with pytest.raises(ValueError, match=re.escape(message)):
        DropoutMLPClassifier(**{"hidden_layer_sizes": (4,), **params}).fit(X, y)


def test_lbfgs_with_dropout_says_the_objective_is_stochastic(classification):
    X, y = classification
    with pytest.raises(ValueError, match="stochastic"):
        DropoutMLPClassifier(solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="stochastic"):
        DropoutMLPClassifier(
            solver="lbfgs", dropout_rate=0, input_dropout_rate=0.2
        ).fit(X, y)


def test_lbfgs_without_dropout_trains(classification):
    X, y = classification
    clf = DropoutMLPClassifier(
        solver="lbfgs", dropout_rate=0.0, max_iter=300, random_state=0
    ).fit(X, y)
    assert clf.score(X, y) > 0.9
    assert clf.n_iter_ > 0


# -- training -----------------------------------------------------------


@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_loss_decreases_on_an_easy_problem(classification, solver):
    X, y = classification
    clf = DropoutMLPClassifier(
        hidden_layer_sizes=(50,),
        solver=solver,
        learning_rate_init=0.01,
        max_iter=30,
        random_state=0,
    ).fit(X, y)
    assert clf.loss_curve_[-1] < 0.6 * clf.loss_curve_[0]
    assert clf.score(X, y) > 0.8


def test_dropout_changes_training_but_not_the_initialisation(classification):
    X, y = classification
    kwargs = dict(hidden_layer_sizes=(20,), max_iter=1, random_state=0)
    with_dropout = DropoutMLPClassifier(dropout_rate=0.5, **kwargs).fit(X, y)
    without = DropoutMLPClassifier(dropout_rate=0.0, **kwargs).fit(X, y)
    assert not np.allclose(with_dropout.coefs_[0], without.coefs_[0])


def test_dropout_rate_zero_takes_sklearns_steps_exactly():
    """Without dropout, from the same weights and batches, skdrop takes the
    same SGD steps as scikit-learn's MLP."""
    X, y = make_classification(n_samples=64, n_features=6, random_state=0)
    kwargs = dict(
        hidden_layer_sizes=(7,),
        solver="sgd",
        learning_rate_init=0.1,
        batch_size=16,
        shuffle=False,
        max_iter=1,
        alpha=0.01,
        warm_start=True,
    )
    ours = DropoutMLPClassifier(dropout_rate=0.0, random_state=0, **kwargs).fit(X, y)
    theirs = MLPClassifier(random_state=0, **kwargs).fit(X, y)
    theirs.coefs_ = [c.copy() for c in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    ours.fit(X, y)
    theirs.fit(X, y)
    for mine, reference in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        np.testing.assert_allclose(mine, reference, rtol=1e-12, atol=1e-14)
    assert ours.loss_curve_[-1] == pytest.approx(theirs.loss_curve_[-1], rel=1e-12)


def test_attributes_match_sklearns_after_fit(classification):
    X, y = classification
    ours = DropoutMLPClassifier(hidden_layer_sizes=(6, 5), max_iter=3).fit(X, y)
    theirs = MLPClassifier(hidden_layer_sizes=(6, 5), max_iter=3).fit(X, y)
    for name in [
        "n_layers_",
        "n_outputs_",
        "out_activation_",
        "n_iter_",
        "t_",
        "n_features_in_",
    ]:
        assert getattr(ours, name) == getattr(theirs, name), name
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    assert len(ours.loss_curve_) == ours.n_iter_
    # Under dropout the stopping rule tracks the loss without dropout.
    assert ours.best_loss_ == min(ours.dropout_free_loss_curve_)
    assert ours.validation_scores_ is None and ours.best_validation_score_ is None


def test_warm_start_continues_from_the_previous_weights(classification):
    X, y = classification
    clf = DropoutMLPClassifier(max_iter=3, warm_start=True, random_state=0).fit(X, y)
    first = [c.copy() for c in clf.coefs_]
    clf.fit(X, y)
    assert clf.n_iter_ == 3  # n_iter_ restarts every fit, as in scikit-learn
    assert len(clf.loss_curve_) == 6  # the curve accumulates
    assert clf.t_ == 6 * X.shape[0]
    assert not np.array_equal(first[0], clf.coefs_[0])
    cold = DropoutMLPClassifier(max_iter=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], first[0])


def test_partial_fit_is_unavailable_for_lbfgs():
    assert not hasattr(DropoutMLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(DropoutMLPRegressor(solver="lbfgs"), "partial_fit")


# The dropped rows' fit asks for more rows per batch than it has, on purpose.
@pytest.mark.filterwarnings("ignore:Got `batch_size` less than 1:UserWarning")
def test_sample_weight_zero_equals_dropping_the_rows(regression):
    X, y = regression
    sw = np.ones(len(y))
    sw[::3] = 0.0
    kwargs = dict(
        hidden_layer_sizes=(8,),
        dropout_rate=0.0,
        batch_size=len(y),
        shuffle=False,
        max_iter=5,
        random_state=0,
    )
    weighted = DropoutMLPRegressor(**kwargs).fit(X, y, sample_weight=sw)
    dropped = DropoutMLPRegressor(**kwargs).fit(X[sw > 0], y[sw > 0])
    np.testing.assert_allclose(weighted.coefs_[0], dropped.coefs_[0], rtol=1e-10)


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_float32_input_trains_and_predicts_in_float32(cls, classification):
    X, y = classification
    est = cls(max_iter=3, random_state=0).fit(X.astype(np.float32), y)
    assert all(c.dtype == np.float32 for c in est.coefs_ + est.intercepts_)
    output = (
        est.predict_proba(X.astype(np.float32))
        if hasattr(est, "predict_proba")
        else est.predict(X.astype(np.float32))
    )
    assert output.dtype == np.float32


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_gives_the_dense_model(classification, fmt):
    X, y = classification
    kwargs = dict(max_iter=3, random_state=0, input_dropout_rate=0.2)
    dense = DropoutMLPClassifier(**kwargs).fit(X, y)
    sparse = DropoutMLPClassifier(**kwargs).fit(sp.csr_matrix(X).asformat(fmt), y)
    np.testing.assert_allclose(sparse.coefs_[0], dense.coefs_[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(sparse.predict(sp.csr_matrix(X)), dense.predict(X))


def test_pandas_input_keeps_feature_names(classification):
    pd = pytest.importorskip("pandas")
    X, y = classification
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = DropoutMLPClassifier(max_iter=2).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


# -- randomness: same random_state, same model, bit for bit --------------
DETERMINISM_CONFIGS = [
    dict(dropout_type="bernoulli", input_dropout_rate=0.2),
    dict(dropout_type="gaussian", solver="sgd", max_norm=2.0),
    dict(dropout_type="alpha", activation="selu", early_stopping=True),
]


def _small(cls, random_state=0, **params):
    return cls(
        hidden_layer_sizes=(5, 4),
        max_iter=8,
        batch_size=16,
        random_state=random_state,
        **params,
    )


def _rows(cls, classification, regression):
    """The 80 rows these small fits train on."""
    return (classification if cls is DropoutMLPClassifier else regression)[0][:80]


def _fit_quietly(estimator, classification, regression):
    X, y = classification if isinstance(estimator, DropoutMLPClassifier) else regression
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 8 epochs do not converge
        return estimator.fit(X[:80], y[:80])


def fingerprint(estimator, X):
    """Weights, loss curve and every kind of prediction, as exact bytes."""
    out = [a.tobytes() for a in estimator.coefs_ + estimator.intercepts_]
    out.append(np.asarray(estimator.loss_curve_).tobytes())
    out.append(np.asarray(estimator.predict(X)).tobytes())
    out.append(estimator.predict_samples(X, n_samples=3, random_state=7).tobytes())
    if isinstance(estimator, DropoutMLPClassifier):
        out.append(estimator.predict_proba(X).tobytes())
    else:
        mean, std = estimator.predict(X, return_std=True)
        out += [mean.tobytes(), std.tobytes()]
    return out


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
@pytest.mark.parametrize("config", DETERMINISM_CONFIGS, ids=lambda c: c["dropout_type"])
def test_repeated_fits_are_bit_identical(cls, config, classification, regression):
    data = classification, regression
    X = _rows(cls, classification, regression)
    first = fingerprint(_fit_quietly(_small(cls, **config), *data), X)
    assert fingerprint(_fit_quietly(_small(cls, **config), *data), X) == first
    # Refitting the same object does not carry anything over.
    estimator = _fit_quietly(_small(cls, **config), *data)
    _fit_quietly(estimator.set_params(random_state=1), *data)
    refit = _fit_quietly(estimator.set_params(random_state=0), *data)
    assert fingerprint(refit, X) == first
    # A different seed gives a different model.
    other = _fit_quietly(_small(cls, random_state=1, **config), *data)
    assert fingerprint(other, X) != first


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_random_state_instance_is_reproducible(cls, classification, regression):
    data = classification, regression
    X = _rows(cls, classification, regression)
    a = _fit_quietly(_small(cls, random_state=np.random.RandomState(3)), *data)
    b = _fit_quietly(_small(cls, random_state=np.random.RandomState(3)), *data)
    assert fingerprint(a, X) == fingerprint(b, X)


def test_concurrent_training_in_threads_matches_sequential(classification, regression):
    """No shared generator or module-level mutable state between estimators."""
    jobs = [
        (cls, seed, config)
        for cls in (DropoutMLPClassifier, DropoutMLPRegressor)
        for seed in (0, 1)
        for config in DETERMINISM_CONFIGS
    ]

    def train(job):
        cls, seed, config = job
        model = _fit_quietly(_small(cls, random_state=seed, **config), *data)
        return fingerprint(model, _rows(cls, *data))

    data = classification, regression

    sequential = [train(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(train, jobs)) == sequential


# -- how the dropout settings reach the network ---------------------------
class _RecordingNetwork(Network):
    """A Network that remembers every instance built, to inspect its noise."""

    built: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _RecordingNetwork.built.append(self)


@pytest.fixture
def recorded_networks(monkeypatch):
    _RecordingNetwork.built = []
    monkeypatch.setattr(skdrop._base, "Network", _RecordingNetwork)
    monkeypatch.setattr(skdrop._prediction, "Network", _RecordingNetwork)
    return _RecordingNetwork.built


@pytest.mark.parametrize("kind", list(NOISE))
@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_per_layer_rates_reach_the_right_layers(recorded_networks, Estimator, kind):
    X = np.random.default_rng(0).standard_normal((60, 5))
    y = (X[:, 0] > 0).astype(int)
    rates = (0.1, 0.0, 0.6)
    estimator = Estimator(
        hidden_layer_sizes=(7, 6, 5),
        activation="selu" if kind == "alpha" else "relu",
        dropout_rate=rates,
        input_dropout_rate=0.3,
        dropout_type=kind,
        max_iter=1,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X, y)
    # The regressor's noise estimate after fit runs a prediction network.
    trained = next(n for n in recorded_networks if n.has_dropout)
    assert trained.params is not None
    recorded_networks.clear()
    estimator.predict_samples(X, n_samples=1, random_state=0)
    (predicting,) = recorded_networks
    expected = [0.3, *rates]
    for network in (trained, predicting):
        for layer, (dropout, rate) in enumerate(
            zip(network.dropouts, expected, strict=True)
        ):
            if rate == 0:
                assert dropout is None, layer
                continue
            assert dropout.name == kind, layer
            assert dropout.rate == pytest.approx(rate, abs=1 / RATE_RESOLUTION)


@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
@pytest.mark.parametrize("kind", list(NOISE))
def test_estimators_fit_with_a_rate_just_below_one(Estimator, kind):
    X = np.random.default_rng(0).standard_normal((60, 4))
    y = (X[:, 0] > 0).astype(int)
    model = Estimator(
        hidden_layer_sizes=(8,),
        dropout_rate=1 - 1e-7,
        dropout_type=kind,
        activation="selu",
        learning_rate_init=1e-4,
        max_iter=2,
        random_state=0,
    ).fit(X, y)
    assert np.isfinite(model.predict_samples(X, n_samples=2, random_state=0)).all()


@pytest.mark.parametrize("kind", list(NOISE))
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


# -- max-norm after every update (the rescaling itself: test_network.py) ---
def _incoming_norms(estimator):
    """Norms of every hidden unit's incoming weights (the output is free)."""
    return np.concatenate([np.linalg.norm(W, axis=0) for W in estimator.coefs_[:-1]])


@pytest.fixture(scope="module")
def spread_out():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 20)) * 3
    return X, (X[:, 0] + X[:, 1] ** 2 > 2).astype(int)


# Unconstrained, hidden units of this network grow past 1 on spread_out
# within its 30 epochs (Adam: checked below; SGD: 1.27), so a max_norm of 0.5
# binds.
GROWING = dict(
    hidden_layer_sizes=(40, 30), learning_rate_init=0.01, max_iter=30, random_state=0
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_norm_bounds_every_hidden_unit_after_fit(spread_out, dtype):
    X, y = spread_out
    clf = DropoutMLPClassifier(max_norm=0.5, **GROWING).fit(X.astype(dtype), y)
    norms = _incoming_norms(clf)
    assert norms.max() <= 0.5 * (1 + 1e-5)
    # The bound is active (the test is not vacuous): unconstrained, these
    # units grow well beyond it.
    assert norms.max() >= 0.5 * (1 - 1e-5)
    free = DropoutMLPClassifier(**GROWING).fit(X, y)
    assert _incoming_norms(free).max() > 2 * 0.5


def test_max_norm_bounds_after_every_partial_fit(spread_out):
    X, y = spread_out
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(50,), max_norm=0.3, learning_rate_init=0.05
    )
    for start in range(0, 300, 50):
        reg.partial_fit(X[start : start + 50], y[start : start + 50])
        assert _incoming_norms(reg).max() <= 0.3 * (1 + 1e-6)


def test_max_norm_with_sparse_input_and_sgd(spread_out):
    X, y = spread_out
    clf = DropoutMLPClassifier(solver="sgd", max_norm=0.5, **GROWING)
    norms = _incoming_norms(clf.fit(sp.csr_matrix(X), y))
    assert 0.5 * (1 - 1e-5) <= norms.max() <= 0.5 * (1 + 1e-5)
