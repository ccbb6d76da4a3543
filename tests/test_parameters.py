"""Parameters checked where they are used, not only by ``fit``'s constraints.

``set_params`` after ``fit`` changes a parameter without validation, and
prediction with dropout reads the rates, the kind of noise and the
activation from the estimator: each is re-validated there, and a value that
fit would refuse is refused with an error naming it. Other checks beyond
``_parameter_constraints``: ``max_norm`` needs a stochastic solver, and a
network too large for the machine is refused before anything is allocated.

Hypothesis runs derandomized with small case budgets; the number of
generated cases is printed at the end of the module.
"""

import copy
import itertools
import re
import tracemalloc
import warnings
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils._param_validation import (
    InvalidParameterError,
    validate_parameter_constraints,
)
from support import TEXT_CHARACTERS, assert_predictions_valid, clean_X

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._core.activations import HIDDEN_ACTIVATIONS
from skdrop._core.noise import NOISE

GENERATED_CASES = {"count": 0}


ESTIMATORS = (DropoutMLPClassifier, DropoutMLPRegressor)
TINY = {"hidden_layer_sizes": (3, 2), "max_iter": 2, "random_state": 0}


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    return X, (X[:, 0] > 0).astype(int), X[:, 0]


_FITTED = {}


def _fitted(cls):
    """A tiny fitted estimator, fitted once per module and copied per case."""
    if cls not in _FITTED:
        X, y_class, y_reg = _data()
        y = y_class if cls is DropoutMLPClassifier else y_reg
        _FITTED[cls] = cls(**TINY).fit(X, y)
    return copy.deepcopy(_FITTED[cls])


# -- values, valid and invalid, for the parameters prediction uses ----------
def _is_rate(value):
    return (
        isinstance(value, int | float | np.floating)
        and not isinstance(value, bool)
        and 0 <= value < 1
    )


ANY_SCALAR = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=1),
    st.sampled_from([0.0, 0.5, 1 - 1e-7, 0.999995, 1.0, -0.0, -1e-300]),
    st.integers(-2, 2),
    st.booleans(),
    st.none(),
    st.text(TEXT_CHARACTERS, max_size=4),
    st.sampled_from(["0.3", "relu", "bernoulli"]),
)
RATES = st.one_of(
    ANY_SCALAR,
    st.lists(st.floats(min_value=0, max_value=0.99), min_size=0, max_size=3),
    st.lists(st.lists(st.floats(0, 0.9), min_size=1, max_size=2), min_size=1),
    st.lists(ANY_SCALAR, min_size=2, max_size=2),
)
NAMES = st.sampled_from([*HIDDEN_ACTIVATIONS, *NOISE, "swish", "", "RELU"])
CHANGES = st.one_of(
    st.tuples(st.just("input_dropout_rate"), ANY_SCALAR),
    st.tuples(st.just("dropout_rate"), RATES),
    st.tuples(st.just("dropout_type"), st.one_of(NAMES, ANY_SCALAR)),
    st.tuples(st.just("activation"), st.one_of(NAMES, ANY_SCALAR)),
)


def _valid(name, value, n_hidden):
    if name == "input_dropout_rate":
        return _is_rate(value)
    if name == "dropout_rate":
        if isinstance(value, list):
            return len(value) == n_hidden and all(_is_rate(v) for v in value)
        return _is_rate(value)
    registry = NOISE if name == "dropout_type" else HIDDEN_ACTIVATIONS
    return isinstance(value, str) and value in registry


# What each prediction method reads besides the weights.
USES = {
    "predict": {"activation"},
    "predict_samples": {
        "activation",
        "dropout_type",
        "dropout_rate",
        "input_dropout_rate",
    },
    "predict_std": {"activation", "dropout_type", "dropout_rate", "input_dropout_rate"},
}


def _call(estimator, method, X):
    if method == "predict_std":
        return estimator.predict(X, return_std=True)
    if method == "predict_samples":
        return estimator.predict_samples(X, n_samples=3, random_state=0)
    return estimator.predict(X)


@settings(max_examples=120)
@given(
    change=CHANGES,
    cls=st.sampled_from(ESTIMATORS),
    method=st.sampled_from(sorted(USES)),
)
def test_prediction_revalidates_parameters_set_after_fit(change, cls, method):
    GENERATED_CASES["count"] += 1
    if method == "predict_std" and cls is DropoutMLPClassifier:
        method = "predict_samples"
    name, value = change
    estimator = _fitted(cls).set_params(**{name: value})
    X = _data()[0][:4]
    if name in USES[method] and not _valid(name, value, 2):
        event(f"refused {name}")
        with pytest.raises((ValueError, TypeError), match=f"'{name}' parameter"):
            _call(estimator, method, X)
        return
    event("accepted")
    output = _call(estimator, method, X)
    for array in output if isinstance(output, tuple) else (output,):
        if array.dtype.kind == "f":
            assert np.isfinite(array).all()


@settings(max_examples=30)
@given(value=st.one_of(ANY_SCALAR, st.lists(st.booleans(), max_size=2)))
def test_return_std_must_be_a_bool(value):
    GENERATED_CASES["count"] += 1
    estimator = _fitted(DropoutMLPRegressor)
    X = _data()[0][:3]
    if isinstance(value, bool):
        result = estimator.predict(X, return_std=value)
        assert isinstance(result, tuple) == value
        return
    with pytest.raises(InvalidParameterError, match="return_std"):
        estimator.predict(X, return_std=value)


def test_return_std_accepts_numpy_bools():
    estimator = _fitted(DropoutMLPRegressor)
    _, std = estimator.predict(_data()[0][:3], return_std=np.True_)
    assert (std > 0).all()


@settings(max_examples=30)
@given(
    rates=st.recursive(
        st.floats(0, 0.9), lambda inner: st.lists(inner, min_size=1, max_size=2)
    ).filter(lambda r: isinstance(r, list) and any(isinstance(v, list) for v in r)),
    cls=st.sampled_from(ESTIMATORS),
)
def test_nested_dropout_rates_are_refused_by_fit(rates, cls):
    GENERATED_CASES["count"] += 1
    X, y_class, y_reg = _data()
    y = y_class if cls is DropoutMLPClassifier else y_reg
    with pytest.raises(InvalidParameterError, match="'dropout_rate' parameter"):
        cls(hidden_layer_sizes=(3,), max_iter=1, dropout_rate=rates).fit(X, y)


# -- max_norm needs mini-batch steps -----------------------------------------
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_max_norm_with_lbfgs_is_refused(cls):
    X, y_class, y_reg = _data()
    y = y_class if cls is DropoutMLPClassifier else y_reg
    estimator = cls(solver="lbfgs", dropout_rate=0, max_norm=0.5, max_iter=5)
    with pytest.raises(ValueError, match=r"max_norm=0\.5 .*solver='lbfgs'"):
        estimator.fit(X, y)
    assert not hasattr(estimator, "coefs_")


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_max_norm_bound_holds_after_fit(solver):
    X, _, y = _data()
    estimator = DropoutMLPRegressor(
        hidden_layer_sizes=(8, 4),
        solver=solver,
        max_norm=0.5,
        learning_rate_init=0.1,
        max_iter=5,
        random_state=0,
    ).fit(X, 100 * y)
    for coef in estimator.coefs_[:-1]:
        assert np.linalg.norm(coef, axis=0).max() <= 0.5 * (1 + 1e-6)


# -- networks too large for the machine ---------------------------------------
def _n_params(units):
    return sum((a + 1) * b for a, b in itertools.pairwise(units))


@settings(max_examples=25)
@given(
    sizes=st.lists(st.integers(1, 10**12), min_size=1, max_size=3).filter(
        lambda s: _n_params([3, *s, 1]) > 10**9
    ),
    solver=st.sampled_from(["sgd", "adam", "lbfgs"]),
    cls=st.sampled_from(ESTIMATORS),
)
def test_huge_network_is_refused_before_allocating(sizes, solver, cls):
    GENERATED_CASES["count"] += 1
    X, y_class, y_reg = _data()
    y = y_class if cls is DropoutMLPClassifier else y_reg
    estimator = cls(hidden_layer_sizes=sizes, solver=solver, dropout_rate=0)
    # The machine is made to have 4 GiB, so the case does not depend on it.
    with mock.patch("skdrop._parameters._physical_memory", return_value=4 << 30):
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match=r"hidden_layer_sizes=.* GiB"):
                estimator.fit(X, y)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 20 << 20


def test_network_that_fits_in_memory_is_accepted():
    X, _, y = _data()
    with mock.patch("skdrop._parameters._physical_memory", return_value=4 << 30):
        DropoutMLPRegressor(hidden_layer_sizes=(1000,), max_iter=1).fit(X, y)


def test_memory_unknown_skips_the_size_check():
    X, _, y = _data()
    with mock.patch("skdrop._parameters._physical_memory", return_value=None):
        DropoutMLPRegressor(hidden_layer_sizes=(50,), max_iter=1).fit(X, y)


# -- the examples ----------------------------------------------------
@pytest.mark.parametrize("value", [2.0, -0.5, np.nan, "0.3", 1.0])
@pytest.mark.parametrize("method", ["predict_samples", "predict_std"])
def test_input_dropout_rate_set_after_fit_is_revalidated(value, method):
    estimator = _fitted(DropoutMLPRegressor).set_params(input_dropout_rate=value)
    with pytest.raises(InvalidParameterError, match="'input_dropout_rate' parameter"):
        _call(estimator, method, _data()[0][:3])


@pytest.mark.parametrize(
    "params",
    [
        {"dropout_rate": 0.999995},
        {"dropout_rate": 1 - 1e-7},
        {"dropout_rate": 1 - 1e-7, "dropout_type": "alpha", "activation": "selu"},
        {"input_dropout_rate": 1 - 1e-7},
    ],
)
def test_rates_just_below_one_train_and_predict(params):
    X, _, y = _data()
    estimator = DropoutMLPRegressor(hidden_layer_sizes=(3,), max_iter=2, **params)
    with pytest.warns(Warning):  # max_iter reached
        estimator.fit(X, y)
    mean, std = estimator.predict(X[:3], return_std=True)
    assert np.isfinite(mean).all() and np.isfinite(std).all()


# -- invalid and arbitrary values, through fit and partial_fit ---------------
# One small layer and 3 epochs: each case is one quick fit.
TINY_FIT = {"hidden_layer_sizes": (3,), "max_iter": 3}
# Values that every parameter of _parameter_constraints must refuse.
# skdrop's own rules only: scikit-learn's check_param_validation (run by
# test_sklearn_compat) already sends invalid values of every inherited
# parameter through fit and partial_fit. hidden_layer_sizes is here for the
# elements of a sequence, which its constraint does not look into.
INVALID_PARAMS = {
    "hidden_layer_sizes": [0, -1, (3, 0), (3, -2), "3", (3, 1.5), 2.5],
    "dropout_rate": [
        -0.1,
        1.0,
        1.5,
        np.nan,
        "half",
        None,
        [0.1, 0.2],
        [],
        [1.0],
        [-0.5],
        ["half"],
        [None],
        [np.nan],
        [True],
    ],
    "input_dropout_rate": [-0.1, 1.0, "a", None, [0.1], np.nan],
    "dropout_type": ["uniform", None, 1],
    "max_norm": [0, -1.0, "big", np.nan],
    "dropout_group_size": [0, -1, "rows", 1.5],
}
INVALID_CASES = [
    (cls, name, value)
    for cls in (DropoutMLPClassifier, DropoutMLPRegressor)
    for name, values in INVALID_PARAMS.items()
    for value in values
] + [
    # The classifier's only: wrong types, and dicts whose keys are not
    # classes of y or whose weights are not finite non-negative numbers.
    (DropoutMLPClassifier, "class_weight", value)
    for value in ["heavy", 1.0, [1.0, 2.0], {2: 1.0}, {0: -1.0}, {0: np.nan}]
]


def test_every_parameter_of_skdrops_own_has_invalid_cases():
    for cls, sklearn_cls in (
        (DropoutMLPClassifier, MLPClassifier),
        (DropoutMLPRegressor, MLPRegressor),
    ):
        covered = {name for c, name, _ in INVALID_CASES if c is cls}
        own = set(cls._parameter_constraints) - set(sklearn_cls._parameter_constraints)
        assert own <= covered, own - covered


@pytest.mark.parametrize(
    "cls, name, value",
    INVALID_CASES,
    ids=[f"{c.__name__}-{n}={v!r}" for c, n, v in INVALID_CASES],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_invalid_parameter_is_named(cls, name, value, method):
    """Each invalid constructor value fails before training, naming itself."""
    if method == "partial_fit" and name == "solver":
        pytest.skip("partial_fit does not exist for an invalid solver")
    X = clean_X(8, 2)
    y = np.arange(8) % 2
    estimator = cls(**{**TINY_FIT, name: value})
    fit = getattr(estimator, method)
    kwargs = (
        {"classes": [0, 1]}
        if cls is DropoutMLPClassifier and method == ("partial_fit")
        else {}
    )
    with pytest.raises((ValueError, TypeError), match=name):
        fit(X, y, **kwargs)
    assert not hasattr(estimator, "coefs_")
    assert not hasattr(estimator, "classes_")


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(TEXT_CHARACTERS, max_size=3),
    st.lists(st.floats(-2, 2), max_size=3),
    st.lists(st.integers(-2, 4), max_size=3),
)


# Valid values that would make a tiny test slow.
SLOW_WHEN_VALID = {"max_iter", "max_fun", "hidden_layer_sizes", "n_iter_no_change"}


@settings(max_examples=70)
@given(
    name=st.sampled_from(sorted(DropoutMLPRegressor._parameter_constraints)),
    value=JUNK,
    classifier=st.booleans(),
)
def test_arbitrary_parameter_values(name, value, classifier):
    """Any value: either a named parameter error, or a model that works."""
    cls = DropoutMLPClassifier if classifier else DropoutMLPRegressor
    assume(name in cls._parameter_constraints)
    params = {**TINY_FIT, "random_state": 0, name: value}
    try:
        validate_parameter_constraints(
            cls._parameter_constraints, params, caller_name=cls.__name__
        )
        valid_for_sklearn = True
    except InvalidParameterError:
        valid_for_sklearn = False
    if valid_for_sklearn and name in SLOW_WHEN_VALID:
        assume(np.all(np.ravel(np.asarray(value, dtype=float)) <= 8))
    GENERATED_CASES["count"] += 1
    X = clean_X(10, 2)
    y = np.arange(10) % 2
    estimator = cls(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            estimator.fit(X, y)
        except (ValueError, TypeError) as exc:
            message = str(exc)
            named = (
                name in message
                or (
                    # lbfgs is refused with dropout, which names both settings.
                    "dropout" in message and name in ("solver", "dropout_rate")
                )
                or (
                    # a few samples cannot hold out a validation set
                    name in ("early_stopping", "validation_fraction")
                    and re.search("validation|test_size|train_size", message)
                )
            )
            assert named, f"{name}={value!r}: {message}"
            assert not hasattr(estimator, "coefs_")
            return
    assert valid_for_sklearn, f"{name}={value!r} is invalid but was accepted"
    assert_predictions_valid(estimator, X)
