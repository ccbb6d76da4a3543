"""The estimators as scikit-learn sees them: its estimator checks, and its
tools (clone, Pipeline, cross-validation, grid searches run in parallel by
joblib's backends, in other processes and on a dask cluster).

The estimator checks run on the configurations whose API differs: the
defaults, and 'lbfgs' (no partial_fit, no dropout; the regressor's lbfgs
path differs from the classifier's only in the head, checked by the default
regressor). Noise type and max-norm change the numbers, not the API; their
behaviour has its own tests.
"""

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    check_sample_weight_equivalence_on_sparse_data,
    parametrize_with_checks,
)
from support import run_estimator_check

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor

# Dropout and shuffled mini-batches make these checks' premise false: a row
# of weight 2 and the same row given twice draw different masks and batches,
# so the two fits take different stochastic paths.
STOCHASTIC_PATH_XFAILS = dict.fromkeys(
    [
        "check_sample_weight_equivalence_on_dense_data",
        "check_sample_weight_equivalence_on_sparse_data",
    ],
    "weights 2 and duplicated rows take different stochastic mini-batch and "
    "dropout paths",
)

# Short fits: max_iter=10 at learning_rate_init=0.01 (ten times the
# default). With max_iter='auto' under dropout the tiny data sets of the
# checks would get 20,000 steps each, and most checks assert nothing that
# needs a trained network; a fit's cost is mostly its epochs, so these three
# estimators' checks take 2.7 s of CPU instead of 6.3 s at 50 epochs of the
# default rate. The scores keep their margins (measured on the checks' data
# with random_state=0): check_classifiers_train 0.92-0.95 against its 0.83
# (0.91 at 50 epochs of the default rate), check_regressors_train 0.80
# against its 0.5 (0.77). check_class_weight_classifiers sets its own
# max_iter. The lbfgs classifier keeps its default: at 100 iterations one of
# its saturated-probability failures below no longer shows.
ESTIMATORS = [
    DropoutMLPClassifier(max_iter=10, learning_rate_init=0.01),
    DropoutMLPRegressor(max_iter=10, learning_rate_init=0.01),
    DropoutMLPRegressor(dropout_rate="auto", max_iter=10, learning_rate_init=0.01),
    DropoutMLPClassifier(solver="lbfgs", dropout_rate=0.0),
]


# Found when the 'lbfgs' classifier joined the checks (reported, not fixed
# here): L-BFGS drives the training probabilities to exactly 0 or 1 in
# float64, where the checks want log(predict_proba) to be finite like
# predict_log_proba and multilabel probabilities strictly below 1.
SATURATED_PROBABILITY_XFAILS = {
    "check_classifiers_train": (
        "predict_proba rounds a probability of 1e-34 to 0; predict_log_proba "
        "keeps it (-78), so log(predict_proba) has -inf where it does not"
    ),
    "check_classifiers_multilabel_output_format_predict_proba": (
        "saturated logistic outputs are exactly 1.0; the check wants < 1"
    ),
}


def _expected_failed_checks(estimator):
    if estimator.solver == "lbfgs" and isinstance(estimator, DropoutMLPClassifier):
        return SATURATED_PROBABILITY_XFAILS
    if estimator.dropout_rate == 0:
        return {}
    return STOCHASTIC_PATH_XFAILS


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check, request):
    run_estimator_check(estimator, check, request)


@pytest.mark.parametrize(
    "check",
    [
        check_sample_weight_equivalence_on_dense_data,
        check_sample_weight_equivalence_on_sparse_data,
    ],
)
# tol=1e-2: every fit of these checks stops on its training loss, after 58
# (classifier) or 25 (regressor) epochs, so the stopping rule reads the
# weighted loss too; at the default tol the classifiers ran all 200 epochs
# and the four cost three times as much.
@pytest.mark.parametrize(
    "estimator",
    [
        DropoutMLPClassifier(dropout_rate=0.0, tol=1e-2),
        DropoutMLPRegressor(dropout_rate=0.0, tol=1e-2),
        DropoutMLPClassifier(dropout_rate=0.0, max_norm=2.0, tol=1e-2),
        DropoutMLPRegressor(dropout_rate=0.0, max_norm=2.0, tol=1e-2),
    ],
    ids=repr,
)
def test_without_dropout_weights_equal_repeated_rows(estimator, check):
    """With a stochastic solver but no dropout (max-norm or not), a weight of
    2 and a repeated row give the same model."""
    check(type(estimator).__name__, estimator)


# -- scikit-learn's tools -------------------------------------------------
def test_clone_keeps_parameters_and_drops_the_fit(iris):
    X, y = iris
    clf = DropoutMLPClassifier(dropout_rate=[0.3], max_norm=3.0, max_iter=5).fit(X, y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "coefs_")


def test_set_params_changes_dropout():
    clf = DropoutMLPClassifier().set_params(dropout_rate=0.2, input_dropout_rate=0.1)
    assert clf.dropout_rate == 0.2 and clf.input_dropout_rate == 0.1


# Standardised iris is learnt in 50 epochs at ten times the default rate:
# the cross-validation folds below score 0.94-0.98 and the grid search's
# refit 0.97 (at 200 and 150 epochs of the default rate, which took two to
# three times as long: 0.90-0.96 and 0.86).
QUICK_IRIS = dict(max_iter=50, learning_rate_init=0.01, random_state=0)


def test_pipeline_with_scaler_and_cross_val_score(iris):
    X, y = iris
    model = make_pipeline(StandardScaler(), DropoutMLPClassifier(**QUICK_IRIS))
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > 0.85


def test_grid_search_over_dropout_rate_in_a_pipeline(iris):
    X, y = iris
    model = make_pipeline(
        StandardScaler(), DropoutMLPClassifier(hidden_layer_sizes=(32,), **QUICK_IRIS)
    )
    search = GridSearchCV(
        model, {"dropoutmlpclassifier__dropout_rate": [0.0, 0.2, 0.5]}, cv=3
    ).fit(X, y)
    assert search.best_params_["dropoutmlpclassifier__dropout_rate"] in (0.0, 0.2, 0.5)
    assert len(search.cv_results_["mean_test_score"]) == 3
    assert search.score(X, y) > 0.85


def test_grid_search_regressor_over_per_layer_rates():
    X, y = make_regression(n_samples=120, n_features=4, noise=1.0, random_state=0)
    search = GridSearchCV(
        DropoutMLPRegressor(hidden_layer_sizes=(16, 16), max_iter=50, random_state=0),
        {"dropout_rate": [[0.0, 0.0], [0.1, 0.3]]},
        cv=2,
    ).fit(X, y / y.std())
    assert search.best_params_["dropout_rate"] in ([0.0, 0.0], [0.1, 0.3])


# -- parallel searches find what a serial search finds, bit for bit ---------
def _search(cls, classification, regression):
    X, y = classification if cls is DropoutMLPClassifier else regression
    estimator = cls(
        hidden_layer_sizes=(5, 4), max_iter=8, batch_size=16, random_state=0
    )
    grid = {"dropout_rate": [0.1, 0.5], "alpha": [1e-4, 1e-1]}
    # Log loss and R^2 tell candidates apart where accuracy ties.
    scoring = "neg_log_loss" if cls is DropoutMLPClassifier else "r2"
    search = GridSearchCV(estimator, grid, cv=KFold(3), scoring=scoring)
    return search, X[:80], y[:80]


def _same_search(parallel, serial, X):
    for key in serial.cv_results_:
        if key.startswith("split") or key == "mean_test_score":
            np.testing.assert_array_equal(
                parallel.cv_results_[key], serial.cv_results_[key]
            )
    # The scores differ between candidates, so the comparison means something.
    assert len(set(serial.cv_results_["mean_test_score"])) > 1
    assert parallel.best_params_ == serial.best_params_
    for a, b in zip(
        parallel.best_estimator_.coefs_, serial.best_estimator_.coefs_, strict=True
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(parallel.predict(X), serial.predict(X))


@pytest.mark.filterwarnings(
    "ignore:Stochastic Optimizer:sklearn.exceptions.ConvergenceWarning"
)
@pytest.mark.parametrize(
    ("cls", "backend"),
    [(DropoutMLPClassifier, "loky"), (DropoutMLPRegressor, "threading")],
)
def test_parallel_grid_search_matches_serial(cls, backend, classification, regression):
    serial, X, y = _search(cls, classification, regression)
    serial.fit(X, y)
    parallel, _, _ = _search(cls, classification, regression)
    with joblib.parallel_backend(backend, n_jobs=2):
        parallel.set_params(n_jobs=2).fit(X, y)
    _same_search(parallel, serial, X)


@pytest.mark.filterwarnings(
    "ignore:Stochastic Optimizer:sklearn.exceptions.ConvergenceWarning",
    # distributed warns about ports and cleanup on shared test machines.
    "ignore::UserWarning:distributed",
)
def test_grid_search_on_a_dask_cluster(classification, regression):
    """joblib's dask backend hands the fits to the cluster's two workers.

    The workers are threads of this process: worker processes cost 5-10 s to
    start on a shared 2-core machine, and the loky search above already sends
    the estimator to other processes and back.
    """
    distributed = pytest.importorskip("distributed")
    serial, X, y = _search(DropoutMLPClassifier, classification, regression)
    serial.fit(X, y)
    on_cluster, _, _ = _search(DropoutMLPClassifier, classification, regression)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_backend("dask"),
    ):
        with distributed.get_task_stream(client) as tasks:
            on_cluster.set_params(n_jobs=-1).fit(X, y)
        workers = set(client.scheduler_info()["workers"])
    # The fits really ran on the cluster's workers.
    assert len(workers) == 2
    assert tasks.data
    assert {task["worker"] for task in tasks.data} <= workers
    _same_search(on_cluster, serial, X)
