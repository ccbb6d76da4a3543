"""The estimators inside scikit-learn's tools: clone, params, pickle,
Pipeline, cross_val_score and GridSearchCV over dropout_rate."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_clone_keeps_parameters_and_drops_the_fit(iris):
    X, y = iris
    clf = DropoutMLPClassifier(dropout_rate=[0.3], max_norm=3.0, max_iter=5).fit(X, y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "coefs_")


def test_set_params_changes_dropout():
    clf = DropoutMLPClassifier().set_params(dropout_rate=0.2, input_dropout_rate=0.1)
    assert clf.dropout_rate == 0.2 and clf.input_dropout_rate == 0.1


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_pickle_round_trip_predicts_identically(iris, cls):
    X, y = iris
    est = cls(max_iter=5, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))


def test_pipeline_with_scaler_and_cross_val_score(iris):
    X, y = iris
    model = make_pipeline(
        StandardScaler(), DropoutMLPClassifier(max_iter=200, random_state=0)
    )
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > 0.85


def test_grid_search_over_dropout_rate_in_a_pipeline(iris):
    X, y = iris
    model = make_pipeline(
        StandardScaler(),
        DropoutMLPClassifier(hidden_layer_sizes=(32,), max_iter=150, random_state=0),
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
