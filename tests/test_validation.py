"""Inputs refused (or made safe) before they reach the training core:
sample weights of any scale (a common factor changes nothing, tiny weights
train, an overflowing penalty is named), sparse regression targets, and
what scikit-learn's own checks let through or fail on: dates and durations
in X, Python integers beyond float64, unsortable labels, targets that are
not numbers; and the helpers of skdrop/_validation.py on their own."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from support import (
    TEXT_CHARACTERS,
    assert_same_weights,
    clean_X,
    quietly,
    small_problem,
    weights_of,
)

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._core.optimizers import SOLVERS
from skdrop._validation import (
    PENALTY_DROWNS_DATA,
    checked_labels,
    indicator_columns,
    largest_magnitude,
    normalized_sample_weight,
    numeric_targets,
    penalty_on_normalized_weights,
)

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


# -- sample weights of any scale, and the penalty they imply ------------------
GENERATED_CASES = {"count": 0}
X_W = np.random.default_rng(2).normal(size=(25, 3))
Y_W = X_W[:, 0] - X_W[:, 1]
W_BASE = np.random.default_rng(3).uniform(2.0**-10, 1.0, size=25)


def _fit_weights(sample_weight, solver, alpha, dtype=np.float64):
    return quietly(
        DropoutMLPRegressor(
            hidden_layer_sizes=(3,),
            solver=solver,
            alpha=alpha,
            dropout_rate=0.0 if solver == "lbfgs" else 0.3,
            max_iter=3,
            random_state=0,
        ).fit,
        X_W.astype(dtype),
        Y_W,
        sample_weight=sample_weight,
    )


@settings(max_examples=40)
@given(
    exponent=st.integers(-1000, 1000),
    solver=st.sampled_from(SOLVERS),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_scaled_sample_weights_give_the_same_model(exponent, solver, dtype):
    """Losses are weighted means: a common factor 2**k changes nothing (alpha=0)."""
    GENERATED_CASES["count"] += 1
    reference = _fit_weights(W_BASE, solver, 0.0, dtype)
    scaled = _fit_weights(W_BASE * 2.0**exponent, solver, 0.0, dtype)
    assert_same_weights(weights_of(scaled), weights_of(reference))


@settings(max_examples=25)
@given(exponent=st.integers(-20, 1000), solver=st.sampled_from(SOLVERS))
def test_weight_scale_and_alpha_trade_off(exponent, solver):
    """The penalty is alpha / sum(w): weights w * 2**k with alpha make the same
    model as weights w with alpha / 2**k."""
    GENERATED_CASES["count"] += 1
    scaled = _fit_weights(W_BASE * 2.0**exponent, solver, 1e-4)
    reference = _fit_weights(W_BASE, solver, 1e-4 * 2.0**-exponent)
    assert_same_weights(weights_of(scaled), weights_of(reference))


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
@pytest.mark.parametrize("solver", SOLVERS)
def test_tiny_sample_weights_train(cls, solver):
    X, y_class, y_reg = small_problem()
    y = y_class if cls is DropoutMLPClassifier else y_reg / 1e3
    params = {"hidden_layer_sizes": (3,), "solver": solver, "alpha": 0.0}
    params |= {"dropout_rate": 0.0, "max_iter": 3, "random_state": 0}
    tiny = quietly(cls(**params).fit, X, y, sample_weight=np.full(len(X), 1e-320))
    plain = quietly(cls(**params).fit, X, y)
    for a, b in zip(weights_of(tiny), weights_of(plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_penalty_that_overflows_names_alpha():
    with pytest.raises(ValueError, match="alpha / sum"):
        _fit_weights(np.full(25, 1e-320), "adam", 1e-4)


def test_sparse_targets_for_the_regressor_are_refused():
    X, _, y = small_problem()
    with pytest.raises(TypeError, match="Sparse data was passed for y"):
        DropoutMLPRegressor(max_iter=1).fit(X, sp.csr_matrix(y.reshape(-1, 1)))


# -- inputs that scikit-learn's validation lets through or fails on -----------
TINY = {"hidden_layer_sizes": (3,), "max_iter": 3}
DATE_UNITS = st.sampled_from(["s", "ms", "us", "ns", "D", "h"])


@settings(max_examples=30)
@given(
    kind=st.sampled_from(["timedelta64", "datetime64"]),
    unit=DATE_UNITS,
    frame=st.booleans(),
    classifier=st.booleans(),
    method=st.sampled_from(["fit", "predict"]),
)
def test_dates_and_durations_in_X_are_refused(kind, unit, frame, classifier, method):
    GENERATED_CASES["count"] += 1
    cls = DropoutMLPClassifier if classifier else DropoutMLPRegressor
    values = np.arange(20).reshape(10, 2).astype(f"{kind}[{unit}]")
    X_bad = pd.DataFrame({"a": values[:, 0], "b": np.ones(10)}) if frame else values
    y = np.arange(10) % 2
    estimator = cls(**TINY)
    if method == "predict":
        X_fit = pd.DataFrame({"a": np.ones(10), "b": np.ones(10)}) if frame else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator.fit(X_fit if frame else clean_X(10, 2), y)
    with pytest.raises(ValueError, match="Input X holds dates or time durations"):
        getattr(estimator, method)(X_bad) if method == "predict" else estimator.fit(
            X_bad, y
        )


@settings(max_examples=25)
@given(
    exponent=st.integers(309, 2000),
    row=st.integers(0, 9),
    column=st.integers(0, 1),
    in_y=st.booleans(),
)
def test_python_ints_beyond_float64_are_named(exponent, row, column, in_y):
    GENERATED_CASES["count"] += 1
    X = clean_X(10, 2).astype(object)
    y = np.arange(10, dtype=float).astype(object)
    if in_y:
        y[row] = 10**exponent
    else:
        X[row, column] = -(10**exponent)
    name = "y" if in_y else "X"
    with pytest.raises(ValueError, match=f"Input {name} holds a number too large"):
        DropoutMLPRegressor(**TINY).fit(X, y)


LABEL_VALUES = st.one_of(
    st.integers(-3, 3), st.text(TEXT_CHARACTERS, min_size=1, max_size=2), st.none()
)


@settings(max_examples=30)
@given(labels=st.lists(LABEL_VALUES, min_size=10, max_size=10))
def test_unsortable_labels_are_named(labels):
    """None, or strings mixed with numbers: a clear error, never '<' failing."""
    GENERATED_CASES["count"] += 1
    y = np.array(labels, dtype=object)
    has_none = any(v is None for v in labels)
    mixed = len({isinstance(v, str) for v in labels if v is not None}) > 1
    estimator = DropoutMLPClassifier(**TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if has_none:
            with pytest.raises(ValueError, match="Input y holds None"):
                estimator.fit(clean_X(10, 2), y)
        elif mixed:
            with pytest.raises(ValueError, match="Input y mixes string labels"):
                estimator.fit(clean_X(10, 2), y)
        else:
            estimator.fit(clean_X(10, 2), y)
            assert set(estimator.predict(clean_X(3, 2))) <= set(labels)


@settings(max_examples=25)
@given(
    values=st.lists(
        st.one_of(
            st.text(TEXT_CHARACTERS, max_size=3), st.floats(-5, 5).map(str), st.none()
        ),
        min_size=10,
        max_size=10,
    ),
    loss=st.sampled_from(["squared_error", "poisson"]),
)
def test_regression_targets_must_be_numbers(values, loss):
    GENERATED_CASES["count"] += 1
    y = np.array(values, dtype=object if None in values else str)
    estimator = DropoutMLPRegressor(loss=loss, **TINY)
    try:
        numbers = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        with pytest.raises(ValueError, match="Input y"):
            estimator.fit(clean_X(10, 2), y)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not np.isfinite(numbers).all() or (
            loss == "poisson" and (numbers < 0).any()
        ):
            with pytest.raises(ValueError, match="y"):
                estimator.fit(clean_X(10, 2), y)
            return
        estimator.fit(clean_X(10, 2), y)
    assert np.isfinite(estimator.predict(clean_X(3, 2))).all()


# -- the helpers themselves ---------------------------------------------------
def test_normalized_sample_weight_divides_by_the_largest():
    weights, scale = normalized_sample_weight([1e-320, 2e-320], np.ones((2, 1)))
    assert scale == 2e-320
    np.testing.assert_allclose(weights, [0.5, 1.0])
    assert normalized_sample_weight(None, np.ones((2, 1))) == (None, 1.0)


def test_largest_magnitude_of_dense_sparse_and_empty_data():
    dense = np.array([[1.0, -7.0], [np.nan, 2.0]])
    assert largest_magnitude(dense) == 7.0
    assert largest_magnitude(sp.csr_matrix(dense)) == 7.0
    assert largest_magnitude(np.empty((0, 3))) == 0.0


def test_numeric_targets_convert_number_strings_and_keep_the_dtype():
    y = numeric_targets(np.array(["1.5", "-2"], dtype=object), np.float32)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [1.5, -2.0])
    with pytest.raises(ValueError, match="Input y contains infinity"):
        numeric_targets(np.array([1e300]), np.float32)


def test_checked_labels_turn_object_numbers_into_a_numeric_array():
    assert checked_labels(np.array([1, 2, 1], dtype=object)).dtype.kind == "i"
    strings = np.array(["a", "b"], dtype=object)
    assert checked_labels(strings) is strings


def test_indicator_columns_are_the_classes_of_a_multilabel_y_only():
    np.testing.assert_array_equal(indicator_columns([[0, 1, 1], [1, 0, 1]]), [0, 1, 2])
    assert indicator_columns([0, 1, 1]) is None
