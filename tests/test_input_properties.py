"""Property-based specification of how the estimators treat their input.

For every generated case, ``fit`` / ``partial_fit`` / ``predict`` /
``predict_proba`` / ``predict_samples`` either

* succeed, and every output is finite, of the documented shape and dtype, or
* raise ``ValueError`` / ``TypeError`` whose message names the problem,

and the caller's ``X``, ``y`` and ``sample_weight`` are unchanged byte for
byte. A call that fails leaves an already fitted estimator exactly as it was.

Hypothesis runs derandomized (the same cases on every run) with a fixed case
budget per test; the number of generated cases is counted and printed at the
end of the module.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from support import assert_predictions_valid, clean_X

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor

GENERATED_CASES = {"count": 0}


TINY = {"hidden_layer_sizes": (3,), "max_iter": 3}


def _count_case():
    GENERATED_CASES["count"] += 1


# -- fingerprints of the caller's data ---------------------------------------
def _fingerprint(obj):
    """Everything about ``obj`` that an estimator must not change."""
    if obj is None:
        return None
    if sp.issparse(obj):
        return (
            type(obj),
            obj.format,
            obj.shape,
            obj.data.tobytes(),
            obj.indices.tobytes(),
            obj.indptr.tobytes(),
            obj.nnz,
        )
    if isinstance(obj, pd.DataFrame | pd.Series):
        return (type(obj), obj.shape, pickle_bytes(obj))
    if isinstance(obj, np.ndarray):
        data = obj.tobytes(order="A") if obj.dtype != object else repr(obj.tolist())
        return (obj.dtype, obj.shape, obj.strides, obj.flags.f_contiguous, data)
    return repr(obj)


def pickle_bytes(obj):
    import pickle

    return pickle.dumps(obj)


def _fitted_state(estimator):
    """The fitted attributes of ``estimator``, comparable with ``==``."""
    state = {}
    for key, value in vars(estimator).items():
        if key.endswith("_") and not key.startswith("__"):
            if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
                state[key] = [(v.dtype, v.shape, v.tobytes()) for v in value]
            elif isinstance(value, np.ndarray):
                state[key] = (value.dtype, value.shape, value.tobytes())
            else:
                state[key] = repr(value)
    return state


# -- data generation -----------------------------------------------------------
def _faults(argument, accepted, refused):
    """Every fault of ``argument``: None where it is accepted, else the
    pattern of the ValueError's message; NaN and infinity are refused naming
    the argument."""
    return {
        **dict.fromkeys(accepted),
        "nan": rf"Input {argument} contains NaN",
        "inf": rf"Input {argument} contains infinity",
        **refused,
    }


COMPLEX = r"Complex data not supported"
NOT_NUMBERS = r"could not convert string to float"
FAULTS_X = _faults(
    "X",
    accepted=[
        "clean",
        "float32",
        "int",
        "bool",
        "fortran",
        "non_contiguous",
        "list",
        "sparse_csr_explicit_zeros",
        "sparse_csc_explicit_zeros",
        "pandas",
        "object_numbers",
    ],
    refused={
        "neg_inf": r"Input X contains infinity",
        "empty": r"0 sample\(s\)",
        "no_features": r"0 feature\(s\)",
        "three_d": r"dim 3",
        "one_d": r"Expected 2D array, got 1D array",
        "complex": COMPLEX,
        "object_strings": NOT_NUMBERS,
        "sparse_nan": r"Input X contains NaN",
    },
)
FAULTS_Y = _faults(
    "y",
    accepted=["clean"],
    refused={"short": r"inconsistent numbers of samples", "complex": COMPLEX},
)
FAULTS_SW = _faults(
    "sample_weight",
    accepted=["none", "ones", "some_zero", "list"],
    refused={
        "negative": r"Negative values in data passed to `sample_weight`",
        "all_zero": r"Sample weights must contain at least one non-zero",
        "short": r"sample_weight.shape == \(\d+,\), expected \(\d+,\)",
        "two_d": r"Sample weights must be 1D array or scalar",
        "strings": NOT_NUMBERS,
    },
)


def _make_X(base, fault):
    """``base`` (float64, n x d) turned into the input kind ``fault``."""
    n, d = base.shape
    if fault == "float32":
        return base.astype(np.float32)
    if fault == "int":
        return np.round(base).astype(np.int64)
    if fault == "bool":
        return base > 0
    if fault == "fortran":
        return np.asfortranarray(base)
    if fault == "non_contiguous":
        wide = np.zeros((n, 2 * d))
        wide[:, ::2] = base
        return wide[:, ::2]
    if fault == "list":
        return base.tolist()
    if fault.startswith("sparse_"):
        dense = np.where(np.abs(base) < 0.5, 0.0, base)
        matrix = sp.csr_matrix(dense)
        # Store explicit zeros: the first stored entry of each row becomes 0.
        if matrix.nnz:
            matrix.data[matrix.indptr[:-1][np.diff(matrix.indptr) > 0]] = 0.0
        if fault == "sparse_nan":
            matrix = sp.csr_matrix(base)
            matrix.data[0] = np.nan
        return matrix.tocsc() if fault == "sparse_csc_explicit_zeros" else matrix
    if fault == "pandas":
        return pd.DataFrame(base, columns=[f"f{j}" for j in range(d)])
    if fault == "object_numbers":
        return base.astype(object)
    if fault in ("nan", "inf", "neg_inf"):
        bad = base.copy()
        bad[n // 2, d - 1] = {"nan": np.nan, "inf": np.inf, "neg_inf": -np.inf}[fault]
        return bad
    if fault == "empty":
        return base[:0]
    if fault == "no_features":
        return base[:, :0]
    if fault == "three_d":
        return base[:, :, np.newaxis]
    if fault == "one_d":
        return base[:, 0]
    if fault == "complex":
        return base + 1j
    if fault == "object_strings":
        return np.array([[f"v{i}"] * d for i in range(n)], dtype=object)
    return base


def _make_sample_weight(n, fault, rng):
    if fault == "none":
        return None
    weights = rng.uniform(0.5, 2.0, size=n)
    if fault == "ones":
        return np.ones(n)
    if fault == "some_zero":
        weights[::2] = 0.0
        return weights
    if fault == "list":
        return weights.tolist()
    if fault == "nan":
        weights[-1] = np.nan
    elif fault == "inf":
        weights[-1] = np.inf
    elif fault == "negative":
        weights[-1] = -1.0
    elif fault == "all_zero":
        weights[:] = 0.0
    elif fault == "short":
        weights = weights[:-1]
    elif fault == "two_d":
        weights = weights[:, np.newaxis]
    elif fault == "strings":
        weights = np.array(["w"] * n)
    return weights


@st.composite
def problems(draw):
    """A small learning problem, possibly with one fault in X, y or weights."""
    task = draw(st.sampled_from(["binary", "multiclass", "strings", "regression"]))
    n_samples = draw(st.integers(1, 24))
    n_features = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    base = rng.normal(scale=scale, size=(n_samples, n_features))
    if task == "regression":
        y = base @ rng.normal(size=n_features) + rng.normal(size=n_samples)
        if draw(st.booleans()):
            y = np.c_[y, -y]
    else:
        n_classes = {"binary": 2, "multiclass": 3, "strings": 3}[task]
        n_classes = min(n_classes, n_samples) if draw(st.booleans()) else 1
        codes = rng.permutation(np.arange(n_samples) % n_classes)
        labels = np.array(["cat", "dog", "eel"]) if task == "strings" else [3, 7, 11]
        y = np.asarray(labels)[codes]
    # At most one fault at a time, so the expected message is known.
    where = draw(st.sampled_from(["none", "X", "y", "sample_weight"]))
    x_fault = draw(st.sampled_from(sorted(FAULTS_X))) if where == "X" else "clean"
    y_faults = ["clean", "short", "nan", "inf", "complex"]
    if task != "regression":
        y_faults = ["clean", "short"]
    y_fault = draw(st.sampled_from(y_faults)) if where == "y" else "clean"
    sw_fault = draw(st.sampled_from(sorted(FAULTS_SW)))
    if where != "sample_weight" and FAULTS_SW[sw_fault] is not None:
        sw_fault = "none"
    if x_fault == "no_features" or (x_fault.startswith("sparse") and n_samples < 2):
        x_fault = "clean"
    if y_fault in ("nan", "inf", "complex"):
        y = y.astype(float if y_fault != "complex" else complex)
        y.flat[-1] = {"nan": np.nan, "inf": np.inf, "complex": 1j}[y_fault]
    elif y_fault == "short":
        y = y[:-1]
    if sw_fault == "short" and n_samples == 1:
        sw_fault = "all_zero"
    X = _make_X(base, x_fault)
    sample_weight = _make_sample_weight(n_samples, sw_fault, rng)
    if x_fault == "empty":
        y = y[:0]
        sample_weight = None
    expected = FAULTS_X[x_fault] or FAULTS_Y[y_fault] or FAULTS_SW[sw_fault]
    if y_fault == "short" and n_samples == 1:
        expected = FAULTS_X["empty"]
    if sw_fault == "some_zero" and n_samples == 1 and expected is None:
        expected = FAULTS_SW["all_zero"]
    return {
        "task": task,
        "X": X,
        "y": y,
        "sample_weight": sample_weight,
        "x_fault": x_fault,
        "expected": expected,
        "n_features": n_features,
    }


@st.composite
def tiny_params(draw, dropout=True):
    """Parameters of a tiny, fast network, varied where it matters."""
    solver = draw(st.sampled_from(["adam", "sgd", "lbfgs"]))
    params = dict(TINY)
    params["solver"] = solver
    params["random_state"] = draw(st.integers(0, 1000))
    params["activation"] = draw(
        st.sampled_from(["relu", "tanh", "logistic", "identity", "selu"])
    )
    if solver == "lbfgs" or not dropout:
        params["dropout_rate"] = 0.0
    else:
        params["dropout_rate"] = draw(st.sampled_from([0.0, 0.2, 0.5, 0.9]))
        params["input_dropout_rate"] = draw(st.sampled_from([0.0, 0.3]))
        params["dropout_type"] = draw(st.sampled_from(["bernoulli", "gaussian"]))
        params["max_norm"] = draw(st.sampled_from([None, 0.5, 3.0]))
        params["batch_size"] = draw(st.sampled_from(["auto", 1, 4, 1000]))
    return params


def _estimator_for(task, params):
    cls = DropoutMLPRegressor if task == "regression" else DropoutMLPClassifier
    return cls(**params)


NUMERICAL_FAILURE = (
    r"Training diverged: .*\(learning_rate_init=|"
    r"network's output contains infinity or NaN: an activation overflowed"
)


def _call(method, *args, expected, **kwargs):
    """Run ``method``; check the outcome against ``expected``; return success."""
    if expected is None:
        try:
            method(*args, **kwargs)
        except ValueError as exc:
            # Unscaled data can make SGD diverge, or a finite model overflow:
            # both are reported, never returned as NaN.
            if not re.search(NUMERICAL_FAILURE, str(exc)):
                raise
            return False
        return True
    with pytest.raises(ValueError, match=expected):
        method(*args, **kwargs)
    return False


# -- properties --------------------------------------------------------------
@settings(max_examples=70)
@given(problem=problems(), params=tiny_params())
def test_fit_succeeds_or_names_the_problem(problem, params):
    """fit: valid data gives a working model; each fault gives its own error."""
    _count_case()
    X, y, sw = problem["X"], problem["y"], problem["sample_weight"]
    before = [_fingerprint(a) for a in (X, y, sw)]
    estimator = _estimator_for(problem["task"], params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = _call(
            estimator.fit, X, y, sample_weight=sw, expected=problem["expected"]
        )
        assert [_fingerprint(a) for a in (X, y, sw)] == before
        if not fitted:
            assert not hasattr(estimator, "coefs_"), "a failed fit left weights"
            return
        assert estimator.n_features_in_ == problem["n_features"]
        X_test = clean_X(5, problem["n_features"])
        if isinstance(X, pd.DataFrame):
            X_test = pd.DataFrame(X_test, columns=X.columns)
        try:
            assert_predictions_valid(estimator, X_test)
        except ValueError as exc:
            assert re.search(NUMERICAL_FAILURE, str(exc)), exc


@settings(max_examples=45)
@given(problem=problems(), params=tiny_params(), warm_start=st.booleans())
def test_failed_call_keeps_the_fitted_state(problem, params, warm_start):
    """A fitted estimator that is given bad data stays exactly as it was."""
    assume(problem["expected"] is not None)
    _count_case()
    task = problem["task"]
    n_features = problem["n_features"]
    rng = np.random.default_rng(0)
    X_good = clean_X(12, n_features)
    if task == "regression":
        y_good = rng.normal(size=12)
        if np.ndim(problem["y"]) == 2:
            y_good = np.c_[y_good, y_good]
    else:
        y_good = np.resize(np.unique(problem["y"]), 12)
    params = {**params, "warm_start": warm_start}
    estimator = _estimator_for(task, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assume(_call(estimator.fit, X_good, y_good, expected=None))
        state = _fitted_state(estimator)
        predictions = estimator.predict(X_good)
        X, y, sw = problem["X"], problem["y"], problem["sample_weight"]
        methods = [estimator.fit]
        if params["solver"] != "lbfgs":
            methods.append(estimator.partial_fit)
        for method in methods:
            _call(method, X, y, sample_weight=sw, expected=problem["expected"])
            assert _fitted_state(estimator) == state
            np.testing.assert_array_equal(estimator.predict(X_good), predictions)


@settings(max_examples=45)
@given(
    problem=problems(),
    params=tiny_params(),
    n_rows=st.integers(1, 6),
    predict_fault=st.sampled_from(
        [*sorted(set(FAULTS_X) - {"no_features"}), "wrong_n_features"]
    ),
)
def test_predict_succeeds_or_names_the_problem(problem, params, n_rows, predict_fault):
    """Every prediction method validates X as fit does, without mutating it."""
    assume(problem["expected"] is None)
    _count_case()
    estimator = _estimator_for(problem["task"], params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_args = problem["X"], problem["y"]
        sw = problem["sample_weight"]
        assume(_call(estimator.fit, *fit_args, sample_weight=sw, expected=None))
        n_features = problem["n_features"]
        if predict_fault == "wrong_n_features":
            X_test = clean_X(n_rows, n_features + 1)
            name = type(estimator).__name__
            expected = (
                rf"X has {n_features + 1} features, but {name} is expecting "
                rf"{n_features} features"
            )
        else:
            if predict_fault.startswith("sparse") and n_rows < 2:
                predict_fault = "clean"
            X_test = _make_X(clean_X(n_rows, n_features, seed=1), predict_fault)
            expected = FAULTS_X[predict_fault]
        if predict_fault == "pandas" and not isinstance(problem["X"], pd.DataFrame):
            # Names at predict but not at fit: a warning, not an error.
            X_test = X_test.to_numpy()
        if isinstance(problem["X"], pd.DataFrame) and predict_fault == "clean":
            X_test = pd.DataFrame(X_test, columns=problem["X"].columns)
        before = _fingerprint(X_test)
        state = _fitted_state(estimator)
        methods = [estimator.predict, estimator.predict_samples]
        if isinstance(estimator, DropoutMLPClassifier):
            methods += [estimator.predict_proba, estimator.predict_log_proba]
        for method in methods:
            if _call(method, X_test, expected=expected):
                output = method(X_test)
                rows_axis = 1 if method == estimator.predict_samples else 0
                assert output.shape[rows_axis] == n_rows
                if output.dtype.kind == "f":
                    assert np.isfinite(output).all()
            assert _fingerprint(X_test) == before
        assert _fitted_state(estimator) == state


@settings(max_examples=30)
@given(
    params=tiny_params(),
    n_declared=st.integers(1, 3),
    n_seen=st.integers(1, 5),
    labels=st.sampled_from(["int", "str"]),
    seed=st.integers(0, 1000),
)
def test_partial_fit_rejects_undeclared_classes(
    params, n_declared, n_seen, labels, seed
):
    """partial_fit accepts the declared classes only, and keeps its state."""
    assume(params["solver"] != "lbfgs")
    _count_case()
    names = np.arange(5) if labels == "int" else np.array(list("abcde"))
    classes = names[:n_declared]
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(10, 2))
    y = names[np.arange(10) % n_seen]
    y_before = _fingerprint(y)
    estimator = DropoutMLPClassifier(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.partial_fit(X, classes[np.arange(10) % n_declared], classes=classes)
        state = _fitted_state(estimator)
        if n_seen > n_declared:
            with pytest.raises(ValueError, match=r"`y` has classes not in"):
                estimator.partial_fit(X, y)
            assert _fitted_state(estimator) == state
        else:
            estimator.partial_fit(X, y)
            assert estimator.t_ == 20
            assert_predictions_valid(estimator, X)
        with pytest.raises(ValueError, match=r"`classes=.*` is not the same as"):
            estimator.partial_fit(X, y, classes=names[: n_declared + 1])
    assert _fingerprint(y) == y_before
    np.testing.assert_array_equal(estimator.classes_, classes)
