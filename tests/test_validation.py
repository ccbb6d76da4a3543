"""Inputs refused (or made safe) before they reach the training core:
uniformly tiny sample weights and sparse regression targets."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._validation import PENALTY_DROWNS_DATA, penalty_on_normalized_weights

RNG = np.random.default_rng(0)
X = RNG.standard_normal((40, 3))
Y2 = np.column_stack([X[:, 0] - X[:, 1], X[:, 2]])
LABELS = (X[:, 0] > 0).astype(int)
PARAMS = {"hidden_layer_sizes": (4,), "max_iter": 3, "random_state": 0}


def _fit(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_uniformly_tiny_weights_with_a_penalty_name_the_weights(solver):
    # alpha / sum(w) with w = 1e-300 is 1e296 times the unweighted penalty:
    # the fit used to diverge with advice about the learning rate.
    clf = DropoutMLPClassifier(**PARAMS, solver=solver, dropout_rate=0.0)
    with pytest.raises(ValueError, match=r"sample_weight of at most 1e-300"):
        _fit(clf, X, LABELS, sample_weight=np.full(len(X), 1e-300))
    assert not hasattr(clf, "coefs_")


@pytest.mark.parametrize("scale", [1e-300, 1e-30])
def test_uniformly_tiny_weights_without_a_penalty_give_the_unweighted_model(scale):
    params = {**PARAMS, "alpha": 0.0, "dropout_rate": 0.0}
    weighted = _fit(
        DropoutMLPClassifier(**params), X, LABELS, sample_weight=np.full(40, scale)
    )
    plain = _fit(DropoutMLPClassifier(**params), X, LABELS)
    for a, b in zip(weighted.coefs_, plain.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_small_weights_keep_scikit_learns_penalty_convention():
    # Weights of 1e-3 make the penalty 1000 times stronger, as in
    # scikit-learn (alpha / sum(sample_weight)); that is no error.
    assert penalty_on_normalized_weights(1e-4, 1e-3) == pytest.approx(0.1)
    assert penalty_on_normalized_weights(1e3, 2.0) == 500.0
    # Only weights below 1 are blamed: a large alpha is the user's choice.
    assert penalty_on_normalized_weights(1e20, 1.0) == 1e20
    with pytest.raises(ValueError, match="sample_weight of at most"):
        penalty_on_normalized_weights(1e-4, 1e-4 / PENALTY_DROWNS_DATA / 2)


@pytest.mark.parametrize("n_outputs", [1, 2, 3])
@pytest.mark.parametrize("sparse", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
def test_sparse_regression_targets_are_refused_in_scikit_learns_words(
    n_outputs, sparse
):
    # Two outputs used to fail inside NumPy ("output array does not match
    # result of ndarray.take").
    reg = DropoutMLPRegressor(**PARAMS)
    with pytest.raises(TypeError, match="Sparse data was passed for y"):
        reg.fit(
            X, sparse(Y2[:, :1] if n_outputs == 1 else np.tile(Y2, 2)[:, :n_outputs])
        )
    assert not hasattr(reg, "coefs_")


def test_sparse_multilabel_targets_still_train_the_classifier():
    Y = sp.csr_matrix(np.column_stack([LABELS, 1 - LABELS]))
    clf = _fit(DropoutMLPClassifier(**PARAMS), X, Y)
    assert clf.predict(X).shape == (40, 2)
