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
import tracemalloc
from unittest import mock

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sklearn.utils._param_validation import InvalidParameterError

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._activations import HIDDEN_ACTIVATIONS
from skdrop._noise import NOISE

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
    st.text(max_size=4),
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
