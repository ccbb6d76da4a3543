"""The training loop shared by both estimators: parity with scikit-learn's MLP
parameters, dropout settings, randomness, warm_start, partial_fit, early
stopping and the attributes they leave."""

import inspect
import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._optimizers import OPTIMIZERS

DROPOUT_PARAMS = ["dropout_rate", "input_dropout_rate", "dropout_type", "max_norm"]
PAIRS = [
    (DropoutMLPClassifier, MLPClassifier),
    (DropoutMLPRegressor, MLPRegressor),
]


@pytest.fixture(scope="module")
def classification():
    return make_classification(
        n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=0
    )


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=200, n_features=5, noise=5.0, random_state=0)
    return X, y / y.std()


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
        assert mine.default == reference.default, mine.name
        assert mine.kind == reference.kind, mine.name
    assert [p.name for p in our_params[len(their_params) :]] == DROPOUT_PARAMS


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
def test_parameter_constraints_extend_sklearns(ours, theirs):
    for name in theirs._parameter_constraints:
        assert name in ours._parameter_constraints
    assert set(DROPOUT_PARAMS) <= set(ours._parameter_constraints)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"dropout_rate": 1.0}, "dropout_rate"),
        ({"dropout_rate": -0.1}, "dropout_rate"),
        ({"dropout_rate": [0.1, 0.2]}, "one per hidden layer"),
        ({"dropout_rate": [0.1, 1.5]}, "dropout_rate"),
        ({"dropout_rate": ["a"]}, "dropout_rate"),
        ({"input_dropout_rate": 1.0}, "input_dropout_rate"),
        ({"dropout_type": "uniform"}, "dropout_type"),
        ({"max_norm": 0.0}, "max_norm"),
        ({"activation": "softplus"}, "activation"),
        ({"solver": "rmsprop"}, "solver"),
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


def test_same_seed_gives_the_same_model_bit_for_bit(classification):
    X, y = classification
    fits = [
        DropoutMLPClassifier(max_iter=5, random_state=3, early_stopping=True).fit(X, y)
        for _ in range(2)
    ]
    for a, b in zip(fits[0].coefs_, fits[1].coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    assert fits[0].loss_curve_ == fits[1].loss_curve_
    other = DropoutMLPClassifier(max_iter=5, random_state=4).fit(X, y)
    assert not np.array_equal(other.coefs_[0], fits[0].coefs_[0])


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


def test_convergence_warning_when_max_iter_is_reached(classification):
    X, y = classification
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        DropoutMLPClassifier(max_iter=2, random_state=0).fit(X, y)


def test_tol_stops_training_before_max_iter(classification):
    X, y = classification
    clf = DropoutMLPClassifier(
        max_iter=500, tol=10.0, n_iter_no_change=2, random_state=0
    ).fit(X, y)
    reference = MLPClassifier(max_iter=500, tol=10.0, n_iter_no_change=2).fit(X, y)
    assert clf.n_iter_ == reference.n_iter_ == 4


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
    assert ours.best_loss_ == min(ours.loss_curve_)
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


def test_warm_start_refuses_new_classes(classification):
    X, y = classification
    clf = DropoutMLPClassifier(max_iter=1, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[y < 2], y[y < 2])


def test_partial_fit_runs_one_epoch_per_call_and_accumulates(classification):
    X, y = classification
    clf = DropoutMLPClassifier(random_state=0)
    clf.partial_fit(X[:100], y[:100], classes=np.unique(y))
    clf.partial_fit(X[100:], y[100:])
    assert clf.n_iter_ == 1  # as in scikit-learn: the epochs of the last call
    assert clf.t_ == X.shape[0]
    assert len(clf.loss_curve_) == 2


def test_partial_fit_needs_classes_first_and_rejects_unknown_ones(classification):
    X, y = classification
    clf = DropoutMLPClassifier()
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match="not in"):
        clf.partial_fit(X, y)


def test_partial_fit_draws_new_masks_at_every_call():
    """Fed the same single row twice, the two updates drop different units.

    With one row per step, no momentum and no penalty, a dropped hidden unit's
    incoming weights do not move, so the moved columns show the mask.
    """
    X, y = make_classification(n_samples=1, n_features=5, random_state=0)[0], [1]
    params = dict(
        hidden_layer_sizes=(40,),
        solver="sgd",
        momentum=0.0,
        alpha=0.0,
        learning_rate_init=0.1,
        random_state=0,
    )
    clf = DropoutMLPClassifier(**params)
    clf.partial_fit(X, y, classes=[0, 1])
    after_one = clf.coefs_[0].copy()
    clf.partial_fit(X, y)
    moved_second = np.abs(clf.coefs_[0] - after_one).sum(axis=0) > 0
    assert 0 < moved_second.sum() < 40
    replay = DropoutMLPClassifier(**params)
    replay.partial_fit(X, y, classes=[0, 1])
    np.testing.assert_array_equal(replay.coefs_[0], after_one)
    initial = _initial_first_layer(params, X, y)
    moved_first = np.abs(after_one - initial).sum(axis=0) > 0
    assert 0 < moved_first.sum() < 40
    assert not np.array_equal(moved_first, moved_second)


def _initial_first_layer(params, X, y):
    """First-layer weights at initialisation: a fit with a zero learning rate
    is impossible, so take one SGD step of size ~0 instead."""
    tiny = DropoutMLPClassifier(**{**params, "learning_rate_init": 1e-300})
    tiny.partial_fit(X, y, classes=[0, 1])
    return tiny.coefs_[0]


def test_partial_fit_refuses_early_stopping(classification):
    X, y = classification
    with pytest.raises(ValueError, match="early_stopping"):
        DropoutMLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_partial_fit_is_unavailable_for_lbfgs():
    assert not hasattr(DropoutMLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(DropoutMLPRegressor(solver="lbfgs"), "partial_fit")


def test_early_stopping_records_scores_and_keeps_the_best_weights(classification):
    X, y = classification
    clf = DropoutMLPClassifier(
        early_stopping=True, max_iter=40, n_iter_no_change=3, random_state=0
    ).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None


def test_early_stopping_split_is_stratified_for_multiclass(monkeypatch):
    X, y = make_classification(
        n_samples=200,
        n_classes=4,
        n_informative=4,
        weights=[0.7, 0.1, 0.1, 0.1],
        random_state=0,
    )
    seen = {}
    import skdrop._stochastic as base

    real_split = base.train_test_split

    def spy(*arrays, **kwargs):
        seen["stratify"] = kwargs["stratify"]
        return real_split(*arrays, **kwargs)

    monkeypatch.setattr(base, "train_test_split", spy)
    DropoutMLPClassifier(early_stopping=True, max_iter=1).fit(X, y)
    np.testing.assert_array_equal(seen["stratify"], y)


def test_validation_score_uses_the_whole_network(classification):
    """Validation accuracy is the deterministic score, not a noisy one."""
    X, y = classification
    clf = DropoutMLPClassifier(
        early_stopping=True, max_iter=1, validation_fraction=0.5, random_state=0
    )
    scores = []
    real_score = DropoutMLPClassifier._score

    def recording_score(self, X_val, y_val, sample_weight=None):
        value = real_score(self, X_val, y_val, sample_weight)
        scores.append((value, real_score(self, X_val, y_val, sample_weight)))
        return value

    DropoutMLPClassifier._score = recording_score
    try:
        clf.fit(X, y)
    finally:
        DropoutMLPClassifier._score = real_score
    assert scores and all(a == b for a, b in scores)


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


def test_verbose_prints_sklearns_lines(classification, capsys):
    X, y = classification
    DropoutMLPClassifier(max_iter=2, verbose=True, early_stopping=True).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"Iteration 1, loss = \d+\.\d{8}", lines[0])
    assert re.fullmatch(r"Validation score: \d+\.\d{6}", lines[1])
