"""``dropout_group_size`` at the estimator level: rows sharing dropout masks.

The arithmetic of a step with shared masks is tested against its definition
in ``test_masking.py``; here, that the estimators validate the parameter,
train through grouped masks whenever it is set, and keep every
semantics of ordinary dropout training with it.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks
from support import run_estimator_check

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._core.masking import GroupMasks

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

GROUPS = [1, 16, "batch"]


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=240, n_features=10, n_informative=6, n_classes=3, random_state=0
    )
    return X, y


@pytest.fixture
def grouped_steps(monkeypatch):
    """Counts the training steps that draw grouped masks."""
    calls = []
    original = GroupMasks.draw

    def counting(self, *args):
        calls.append(self.group_size)
        return original(self, *args)

    monkeypatch.setattr(GroupMasks, "draw", counting)
    return calls


def classifier(**params):
    settings = {
        "hidden_layer_sizes": (24, 24),
        "batch_size": 64,
        "max_iter": 8,
        "random_state": 0,
        "dropout_group_size": 16,
    }
    return DropoutMLPClassifier(**{**settings, **params})


# -- validation -----------------------------------------------------------
@pytest.mark.parametrize("value", [0, -3, 1.5, "rows", "Batch", [16]])
@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_invalid_group_sizes_are_refused_naming_the_parameter(cls, value, data):
    X, y = data
    with pytest.raises(InvalidParameterError, match="'dropout_group_size'"):
        cls(dropout_group_size=value, max_iter=1).fit(X, y)


@pytest.mark.parametrize("kind", ["gaussian", "alpha"])
@pytest.mark.parametrize("group_size", [8, "batch"])
def test_noise_that_does_not_zero_dropped_units_is_refused(kind, group_size, data):
    X, y = data
    model = classifier(dropout_type=kind, dropout_group_size=group_size)
    with pytest.raises(ValueError, match=f"dropout_type='{kind}'") as info:
        model.fit(X, y)
    assert "dropout_group_size" in str(info.value)
    assert not hasattr(model, "coefs_")


def test_lbfgs_without_dropout_ignores_the_group_size(data, grouped_steps):
    X, y = data
    model = classifier(solver="lbfgs", dropout_rate=0.0, max_iter=20).fit(X, y)
    assert model.score(X, y) > 0.6
    assert grouped_steps == []


def test_lbfgs_with_dropout_is_still_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="lbfgs"):
        classifier(solver="lbfgs").fit(X, y)


# -- the path taken ---------------------------------------------------------
@pytest.mark.parametrize("group_size", GROUPS)
def test_training_goes_through_grouped_masks(group_size, data, grouped_steps):
    X, y = data
    classifier(dropout_group_size=group_size, max_iter=2).fit(X, y)
    # 240 rows in batches of 64: 4 steps per epoch.
    assert len(grouped_steps) == 8
    assert set(grouped_steps) == {group_size}


def test_per_row_masks_and_no_dropout_take_the_dense_path(data, grouped_steps):
    X, y = data
    classifier(dropout_group_size=None).fit(X, y)
    classifier(dropout_rate=0.0, input_dropout_rate=0.0).fit(X, y)
    assert grouped_steps == []


# -- semantics kept -----------------------------------------------------------
@pytest.mark.parametrize("group_size", GROUPS)
def test_same_random_state_same_model(group_size, data):
    X, y = data
    # 3 epochs (12 steps, reshuffled twice) make the point; with groups of
    # one row each step is a loop over 64 groups, the slowest path here.
    first = classifier(dropout_group_size=group_size, max_iter=3).fit(X, y)
    second = classifier(dropout_group_size=group_size, max_iter=3).fit(X, y)
    for a, b in zip(first.coefs_, second.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    other_seed = classifier(
        dropout_group_size=group_size, max_iter=3, random_state=1
    ).fit(X, y)
    assert not np.array_equal(first.coefs_[0], other_seed.coefs_[0])


def test_grouping_changes_the_masks(data):
    X, y = data
    per_row = classifier(dropout_group_size=None).fit(X, y)
    grouped = classifier(dropout_group_size=16).fit(X, y)
    assert not np.allclose(per_row.coefs_[1], grouped.coefs_[1])


SOLVERS = [
    {"solver": "sgd", "learning_rate_init": 0.05, "nesterovs_momentum": True},
    {"solver": "sgd", "learning_rate_init": 0.05, "nesterovs_momentum": False},
    {"solver": "sgd", "learning_rate_init": 0.3, "momentum": 0.0},
    {"solver": "adam", "learning_rate_init": 0.01},
]


# Every solver with groups and with one mask per batch; groups of one row
# (the same code path, 64 groups per batch, ten times slower) with Adam.
@pytest.mark.parametrize(
    ("group_size", "solver_params"),
    [(size, params) for size in (16, "batch") for params in SOLVERS]
    + [(1, SOLVERS[-1])],
)
def test_loss_decreases_with_every_solver(group_size, solver_params, data):
    X, y = data
    model = classifier(
        dropout_group_size=group_size, max_iter=30, dropout_rate=0.2, **solver_params
    ).fit(X, y)
    assert model.loss_curve_[-1] < 0.7 * model.loss_curve_[0]
    assert model.score(X, y) > 0.8


def test_accuracy_close_to_per_row_masks_on_an_easy_problem():
    X, y = make_classification(
        n_samples=600, n_features=12, n_informative=6, class_sep=2.0, random_state=3
    )
    X_train, X_test, y_train, y_test = X[:400], X[400:], y[:400], y[400:]
    scores = {}
    for group_size in [None, 32, "batch"]:
        scores[group_size] = np.mean(
            [
                classifier(
                    hidden_layer_sizes=(64,),
                    dropout_group_size=group_size,
                    max_iter=40,
                    learning_rate_init=0.01,
                    random_state=seed,
                )
                .fit(X_train, y_train)
                .score(X_test, y_test)
                for seed in range(2)
            ]
        )
    assert scores[None] > 0.85
    assert abs(scores[32] - scores[None]) < 0.05
    assert abs(scores["batch"] - scores[None]) < 0.05


def test_per_layer_rates_and_input_dropout(data, grouped_steps):
    X, y = data
    model = classifier(dropout_rate=[0.5, 0.0], input_dropout_rate=0.2).fit(X, y)
    assert grouped_steps
    assert all(np.isfinite(c).all() for c in model.coefs_)


def test_a_group_that_drops_every_unit_trains(data):
    # Two hidden units at rate 0.8: most groups drop both.
    X, y = data
    model = classifier(
        hidden_layer_sizes=(2,), dropout_rate=0.8, dropout_group_size=4
    ).fit(X, y)
    assert all(np.isfinite(c).all() for c in model.coefs_ + model.intercepts_)


def test_last_batch_smaller_than_a_group(data, grouped_steps):
    X, y = data
    # 100 rows in batches of 64: the last batch (36 rows) is shorter than a
    # group (48 rows), and the first batch's second group is short too.
    model = classifier(dropout_group_size=48).fit(X[:100], y[:100])
    assert len(grouped_steps) == 16
    assert np.isfinite(model.loss_)


def test_sample_weight_is_used(data):
    X, y = data
    unweighted = classifier(max_iter=30, learning_rate_init=0.01).fit(X, y)
    weight = np.where(y == 0, 0.0, 1.0)
    weighted = classifier(max_iter=30, learning_rate_init=0.01).fit(
        X, y, sample_weight=weight
    )
    # Rows of class 0 carry no weight: the model predicts it far less often.
    assert np.mean(weighted.predict(X) == 0) < 0.5 * np.mean(unweighted.predict(X) == 0)


def test_sparse_input_gives_the_dense_inputs_model(data):
    X, y = data
    X = np.where(np.abs(X) > 1.0, X, 0.0)
    params = {"input_dropout_rate": 0.3}
    dense = classifier(**params).fit(X, y)
    sparse = classifier(**params).fit(sp.csr_matrix(X), y)
    for a, b in zip(dense.coefs_, sparse.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_float32_stays_float32(data):
    X, y = data
    params = {"max_iter": 20, "learning_rate_init": 0.01}
    model = classifier(**params).fit(X.astype(np.float32), y)
    assert all(c.dtype == np.float32 for c in model.coefs_ + model.intercepts_)
    reference = classifier(**params).fit(X, y)
    assert model.score(X, y) == pytest.approx(reference.score(X, y), abs=0.05)


def test_max_norm_holds(data):
    X, y = data
    model = classifier(max_norm=0.5, learning_rate_init=0.05, max_iter=10).fit(X, y)
    for W in model.coefs_[:-1]:
        assert np.linalg.norm(W, axis=0).max() <= 0.5 * (1 + 1e-6)


def test_l2_penalty_shrinks_every_weight(data):
    # Weights of units dropped in every group of a step still decay: the
    # penalty acts on all weights, not only the kept submatrix.
    X, y = data
    params = {"solver": "sgd", "learning_rate_init": 0.05, "max_iter": 15}
    free = classifier(alpha=0.0, **params).fit(X, y)
    penalised = classifier(alpha=5.0, **params).fit(X, y)
    for a, b in zip(free.coefs_, penalised.coefs_, strict=True):
        assert np.linalg.norm(b) < 0.6 * np.linalg.norm(a)


def test_partial_fit(data, grouped_steps):
    X, y = data
    model = classifier()
    for _ in range(3):
        model.partial_fit(X, y, classes=np.unique(y))
    assert model.n_iter_ == 1
    assert len(model.loss_curve_) == 3
    assert len(grouped_steps) == 12


def test_partial_fit_continues_the_random_stream(data):
    X, y = data
    one = classifier().partial_fit(X, y, classes=np.unique(y))
    one.partial_fit(X, y)
    two = classifier().partial_fit(X, y, classes=np.unique(y))
    two.partial_fit(X, y)
    np.testing.assert_array_equal(one.coefs_[0], two.coefs_[0])


def test_warm_start_continues(data):
    X, y = data
    model = classifier(warm_start=True, max_iter=5).fit(X, y)
    before = [c.copy() for c in model.coefs_]
    model.fit(X, y)
    assert len(model.loss_curve_) == 10
    assert not np.array_equal(before[0], model.coefs_[0])


def test_set_params_switches_between_per_row_and_grouped(data, grouped_steps):
    X, y = data
    model = classifier(warm_start=True, dropout_group_size=None, max_iter=2).fit(X, y)
    assert grouped_steps == []
    model.set_params(dropout_group_size="batch").fit(X, y)
    assert set(grouped_steps) == {"batch"}


def test_early_stopping(data):
    X, y = data
    model = classifier(early_stopping=True, max_iter=40, learning_rate_init=0.01)
    model.fit(X, y)
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_)


def test_divergence_rolls_back(data):
    X, y = data
    model = classifier(solver="sgd", warm_start=True).fit(X, y)
    before = [c.copy() for c in model.coefs_]
    curve = list(model.loss_curve_)
    model.set_params(learning_rate_init=1e300)
    with pytest.raises(ValueError, match="diverged"):
        model.fit(X, y)
    for a, b in zip(before, model.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.loss_curve_ == curve


def test_regressor_with_groups():
    X, y = make_regression(n_samples=200, n_features=6, noise=1.0, random_state=0)
    y = y / y.std()
    model = DropoutMLPRegressor(
        hidden_layer_sizes=(32,),
        dropout_rate=0.2,
        dropout_group_size=32,
        learning_rate_init=0.01,
        max_iter=60,
        random_state=0,
    ).fit(X, y)
    assert model.score(X, y) > 0.8


def test_pickled_model_predicts_the_same(data):
    X, y = data
    model = classifier().fit(X, y)
    blob = pickle.dumps(model)
    # The masks and their buffers belong to one fit: never pickled.
    assert b"GroupMasks" not in blob
    assert b"KeptSubmatrices" not in blob
    loaded = pickle.loads(blob)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.get_params() == model.get_params()
    loaded.partial_fit(X, y)
    assert np.isfinite(loaded.loss_)


# -- scikit-learn's checks with shared masks ------------------------------------
@parametrize_with_checks(
    [
        # Short fits, as in test_sklearn_compat.py: 10 epochs at ten times
        # the default learning rate keep the checks' score margins
        # (check_classifiers_train 0.92-0.95 against 0.83,
        # check_regressors_train 0.78 against 0.5).
        DropoutMLPClassifier(
            dropout_group_size=128, max_iter=10, learning_rate_init=0.01
        ),
        DropoutMLPRegressor(
            dropout_group_size="batch", max_iter=10, learning_rate_init=0.01
        ),
    ],
    expected_failed_checks=lambda estimator: {
        name: "weights 2 and duplicated rows take different stochastic paths"
        for name in (
            "check_sample_weight_equivalence_on_dense_data",
            "check_sample_weight_equivalence_on_sparse_data",
        )
    },
)
def test_sklearn_estimator_checks_with_shared_masks(estimator, check, request):
    run_estimator_check(estimator, check, request)
