"""Saving and loading fitted estimators: pickle, joblib and skops.

A loaded model must predict exactly as the saved one, and ``partial_fit``
must continue from it exactly as if it had never been saved: the optimiser's
moments and the random stream are part of the saved state. Loading is safe:
skops refuses types the user did not trust, pickles from another skdrop
version warn as scikit-learn's own do, and a state edited by hand or by
another program (generated corruptions below) fails with an error naming
the attribute, at loading or at the first use, never with garbage.
"""

import copy
import io
import json
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import InconsistentVersionWarning

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor, __version__
from skdrop._persistence import InconsistentSkdropVersionWarning

try:
    import skops.io as sio
except ImportError:  # skops is optional: pickle and joblib are still tested
    sio = None

needs_skops = pytest.mark.skipif(sio is None, reason="skops is not installed")


def _pickle(model, tmp_path):
    return pickle.loads(pickle.dumps(model))


def _joblib(model, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    return joblib.load(path)


def _skops(model, tmp_path):
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    return sio.load(path, trusted=[type(model)])


ROUND_TRIPS = {"pickle": _pickle, "joblib": _joblib, "skops": _skops}
METHODS = ["pickle", "joblib", pytest.param("skops", marks=needs_skops)]


def _data(kind, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((80, 4))
    if kind == "binary":
        return X, np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    if kind == "multiclass":
        return X, np.digitize(X[:, 0], [-0.5, 0.5])
    return X, X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.standard_normal(80)


def _model(kind, **params):
    params = {
        "hidden_layer_sizes": (7, 5),
        "max_iter": 5,
        "random_state": 0,
        "dropout_rate": 0.3,
        **params,
    }
    if kind == "regression":
        return DropoutMLPRegressor(**params)
    return DropoutMLPClassifier(**params)


CASES = [
    ("binary", {}),
    ("multiclass", {"solver": "sgd", "learning_rate": "invscaling"}),
    ("regression", {}),
    ("regression", {"solver": "sgd", "early_stopping": True}),
]


def _assert_same_predictions(model, loaded, X):
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    np.testing.assert_array_equal(
        model.predict_samples(X, n_samples=3, random_state=1),
        loaded.predict_samples(X, n_samples=3, random_state=1),
    )
    if hasattr(model, "predict_proba"):
        np.testing.assert_array_equal(model.predict_proba(X), loaded.predict_proba(X))
    else:
        for a, b in zip(
            model.predict(X, return_std=True),
            loaded.predict(X, return_std=True),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)


def _assert_same_weights(a, b):
    pairs = zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True)
    for left, right in pairs:
        np.testing.assert_array_equal(left, right)
    assert a.t_ == b.t_
    assert a.loss_curve_ == b.loss_curve_


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("kind", "params"), CASES)
def test_round_trip_predicts_identically(method, kind, params, tmp_path):
    X, y = _data(kind)
    model = _model(kind, **params).fit(X, y)
    loaded = ROUND_TRIPS[method](model, tmp_path)
    assert type(loaded) is type(model)
    _assert_same_predictions(model, loaded, X)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("kind", "params"), [case for case in CASES if not case[1].get("early_stopping")]
)
def test_partial_fit_continues_bit_for_bit(method, kind, params, tmp_path):
    """A loaded model trains on exactly as one that was never saved."""
    X, y = _data(kind)
    X_more, y_more = _data(kind, seed=1)
    never_saved = _model(kind, **params).fit(X, y)
    loaded = ROUND_TRIPS[method](_model(kind, **params).fit(X, y), tmp_path)
    for _ in range(3):
        never_saved.partial_fit(X_more, y_more)
        loaded.partial_fit(X_more, y_more)
    _assert_same_weights(never_saved, loaded)
    # The optimiser was restored, not restarted: a fresh one would diverge.
    assert loaded._optimizer is not never_saved._optimizer
    assert vars(loaded._optimizer).keys() == vars(never_saved._optimizer).keys()
    _assert_same_predictions(never_saved, loaded, X_more)


@pytest.mark.parametrize("method", METHODS)
def test_partial_fit_from_scratch_round_trip(method, tmp_path):
    """Saving between partial_fit calls keeps the classes and the stream."""
    X, y = _data("multiclass")
    reference = _model("multiclass")
    resumed = _model("multiclass")
    reference.partial_fit(X[:40], y[:40], classes=[0, 1, 2])
    resumed.partial_fit(X[:40], y[:40], classes=[0, 1, 2])
    resumed = ROUND_TRIPS[method](resumed, tmp_path)
    reference.partial_fit(X[40:], y[40:])
    resumed.partial_fit(X[40:], y[40:])
    _assert_same_weights(reference, resumed)


def _plain_leaves(value, path="state"):
    """Yield (path, type) for every value that is not plain data."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"{path} has a non-string key {key!r}"
            yield from _plain_leaves(item, f"{path}[{key!r}]")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _plain_leaves(item, f"{path}[{index}]")
    elif not isinstance(
        value, str | int | float | bool | np.ndarray | np.generic | type(None)
    ):
        yield path, type(value)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_saved_state_is_plain_data(kind, solver):
    """Optimiser and random state are stored as dicts, lists, arrays, numbers."""
    X, y = _data(kind)
    model = _model(kind, solver=solver, early_stopping=True).fit(X, y)
    state = model.__getstate__()
    assert isinstance(state["_optimizer"], dict)
    state.pop("_label_binarizer", None)  # a scikit-learn type skops trusts
    assert list(_plain_leaves(state)) == []


@needs_skops
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_skops_needs_only_the_estimator_trusted(kind, solver, tmp_path):
    X, y = _data(kind)
    params = {"dropout_rate": 0.0} if solver == "lbfgs" else {}
    model = _model(kind, solver=solver, **params).fit(X, y)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    cls = type(model)
    assert sio.get_untrusted_types(file=path) == [
        f"{cls.__module__}.{cls.__qualname__}"
    ]
    loaded = sio.load(path, trusted=[cls])
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


class _Payload:
    """A type no one trusts, smuggled into a model file.

    skops refuses it with ``UntrustedTypesFoundException`` (the name in
    skops 0.10 to 0.16; there is no ``UntrustedTypesFoundError``).
    """


@needs_skops
def test_skops_refuses_untrusted_types(tmp_path):
    X, y = _data("binary")
    model = _model("binary").fit(X, y)
    model.payload_ = _Payload()
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    assert f"{__name__}._Payload" in sio.get_untrusted_types(file=path)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.load(path, trusted=[DropoutMLPClassifier])


def test_unfitted_estimator_round_trips(tmp_path):
    model = _model("binary", dropout_rate=[0.1, 0.2])
    for name, method in ROUND_TRIPS.items():
        if name == "skops" and sio is None:
            continue
        loaded = method(model, tmp_path)
        assert loaded.get_params() == model.get_params()
        assert not hasattr(loaded, "coefs_")


# -- checks of a loaded model's structure --------------------------------------


def _fitted(kind, **params):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0) if kind == "classifier" else X[:, 0]
    Estimator = DropoutMLPClassifier if kind == "classifier" else DropoutMLPRegressor
    params = {"hidden_layer_sizes": (5, 3), "max_iter": 2, "random_state": 0, **params}
    return Estimator(**params).fit(X, y)


def _load_edited(model, edit):
    state = model.__getstate__()
    edit(state)
    clone = type(model).__new__(type(model))
    clone.__setstate__(state)
    return clone


def _set(key, value):
    return lambda state: state.__setitem__(key, value)


def _set_item(key, index, value):
    def edit(state):
        state[key] = list(state[key])
        state[key][index] = value

    return edit


CORRUPTIONS = {
    "coefs_ shape chain": (
        _set_item("coefs_", 1, np.zeros((4, 3))),
        r"coefs_\[1\] has 4 rows, expected 5",
    ),
    "intercepts_ shape": (
        _set_item("intercepts_", 0, np.zeros(4)),
        r"intercepts_\[0\] has shape \(4,\)",
    ),
    "intercepts_ length": (
        lambda s: s.__setitem__("intercepts_", s["intercepts_"][:2]),
        "intercepts_ must be a list of 3",
    ),
    "dtype mix": (
        lambda s: _set_item("coefs_", 2, s["coefs_"][2].astype(np.float32))(s),
        r"coefs_\[2\] must be a float64 array",
    ),
    "integer weights": (
        lambda s: _set_item("coefs_", 0, np.zeros((4, 5), dtype=int))(s),
        "coefs_ must hold float32 or float64",
    ),
    "non-finite": (_set_item("coefs_", 0, np.full((4, 5), np.nan)), "infinity"),
    "activation": (_set("activation", "swish"), "activation 'swish'"),
    "out_activation_": (_set("out_activation_", "sin"), "out_activation_ 'sin'"),
    "n_layers_": (_set("n_layers_", 3), "n_layers_ is 3, expected 4"),
    "n_outputs_": (_set("n_outputs_", 7), "n_outputs_ is 7"),
    "noise_variance_ negative": (
        _set("noise_variance_", np.array([-1.0])),
        "noise_variance_ must be finite and >= 0",
    ),
    "noise_variance_ shape": (
        _set("noise_variance_", np.zeros(2)),
        r"noise_variance_ must be a float array of shape \(1,\)",
    ),
    "generator state": (_set("_rng_state", {"bit_generator": "MT"}), "_rng_state"),
    "optimizer moments": (
        lambda s: s["_optimizer"]["attributes"].__setitem__("first_moment", np.ones(3)),
        r"'first_moment' has shape \(3,\)",
    ),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_loading_an_inconsistent_regressor_names_the_attribute(corruption):
    edit, message = CORRUPTIONS[corruption]
    with pytest.raises(ValueError, match=message):
        _load_edited(_fitted("regressor"), edit)


def test_loading_classes_that_do_not_match_the_outputs_fails():
    model = _fitted("classifier")  # three classes, three softmax outputs
    with pytest.raises(ValueError, match="classes_ has 2 classes for 3 outputs"):
        _load_edited(model, _set("classes_", np.array([0, 1])))


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_untouched_state_loads(kind):
    model = _fitted(kind, early_stopping=True)
    loaded = _load_edited(model, lambda state: None)
    X = np.random.default_rng(1).standard_normal((5, 4))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_early_stopping_keeps_no_copy_of_the_best_weights():
    model = _fitted("regressor", early_stopping=True)
    assert not [name for name in vars(model) if "best_params" in name]


# -- loading is safe (skops trust, versions of pickles) ----------------------
X_SAFE = np.random.default_rng(0).normal(size=(30, 3))
Y_SAFE = {DropoutMLPClassifier: np.arange(30) % 3, DropoutMLPRegressor: X_SAFE[:, 0]}


def _fitted_small(cls):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(
            X_SAFE, Y_SAFE[cls]
        )


class Payload:
    """A type nobody trusted: loading it could run arbitrary code."""

    def __reduce__(self):
        return (print, ("pwned",))


class Innocent:
    """A plain user class carried by the estimator."""


# -- skops ----------------------------------------------------------------
@needs_skops
@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_skops_round_trip_needs_only_skdrop_types(cls):
    estimator = _fitted_small(cls)
    dumped = sio.dumps(estimator)
    untrusted = sio.get_untrusted_types(data=dumped)
    assert all(t.startswith("skdrop.") for t in untrusted), untrusted
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.loads(dumped)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        loaded = sio.loads(dumped, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict(X_SAFE), estimator.predict(X_SAFE))


@needs_skops
@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_skops_refuses_a_smuggled_type(cls):
    """A file carrying an extra type is refused even when skdrop's are trusted."""
    estimator = _fitted_small(cls)
    trusted = sio.get_untrusted_types(data=sio.dumps(estimator))
    estimator.extra_ = Innocent()
    dumped = sio.dumps(estimator)
    smuggled = f"{Innocent.__module__}.Innocent"
    assert smuggled in sio.get_untrusted_types(data=dumped)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException, match="Innocent"):
        sio.loads(dumped, trusted=trusted)


@needs_skops
def test_skops_refuses_a_tampered_type_name():
    """A file edited by hand to name another type is refused."""
    estimator = _fitted_small(DropoutMLPClassifier)
    dumped = sio.dumps(estimator)
    trusted = sio.get_untrusted_types(data=dumped)
    source = zipfile.ZipFile(io.BytesIO(dumped))
    schema = source.read("schema.json").decode()
    assert '"DropoutMLPClassifier"' in schema
    tampered_schema = schema.replace('"DropoutMLPClassifier"', '"Popen"').replace(
        '"skdrop._classifier"', '"subprocess"'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "schema.json":
                data = tampered_schema.encode()
            target.writestr(item, data)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException, match="Popen"):
        sio.loads(buffer.getvalue(), trusted=trusted)


@needs_skops
def test_pickle_payloads_are_outside_skops():
    """skops cannot even serialise an object that pickles as a function call."""
    estimator = _fitted_small(DropoutMLPRegressor)
    estimator.extra_ = Payload()
    with pytest.raises(Exception):  # noqa: B017 - skops raises its own types
        sio.loads(sio.dumps(estimator), trusted=[])


# -- version of pickles --------------------------------------------------------
@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_pickle_records_the_skdrop_version(cls):
    estimator = _fitted_small(cls)
    state = estimator.__getstate__()
    assert state["_skdrop_version"] == __version__
    assert "_skdrop_version" not in vars(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        restored = pickle.loads(pickle.dumps(estimator))
    assert "_skdrop_version" not in vars(restored)
    np.testing.assert_array_equal(restored.predict(X_SAFE), estimator.predict(X_SAFE))


def _unpickle_with_state(cls, edit):
    estimator = _fitted_small(cls)
    state = estimator.__getstate__()
    edit(state)
    restored = cls.__new__(cls)
    restored.__setstate__(state)
    return estimator, restored


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_pickle_from_another_version_warns(cls):
    with pytest.warns(InconsistentSkdropVersionWarning) as record:
        estimator, restored = _unpickle_with_state(
            cls, lambda state: state.update(_skdrop_version="0.0.1")
        )
    message = str(record[0].message)
    expected = f"Trying to unpickle estimator {cls.__name__} from skdrop version 0.0.1"
    assert expected in message
    assert "0.0.1" in message and __version__ in message
    assert cls.__name__ in message and "skdrop" in message
    # It is also scikit-learn's warning, so existing filters keep working.
    assert issubclass(record[0].category, InconsistentVersionWarning)
    assert record[0].message.original_sklearn_version == "0.0.1"
    # The state is still loaded, without the version key.
    assert "_skdrop_version" not in vars(restored)
    np.testing.assert_array_equal(restored.predict(X_SAFE), estimator.predict(X_SAFE))


def test_pickle_without_version_warns():
    with pytest.warns(InconsistentSkdropVersionWarning, match="unknown"):
        _unpickle_with_state(
            DropoutMLPClassifier, lambda state: state.pop("_skdrop_version")
        )


def test_edited_pickle_bytes_warn():
    """The version stored in the pickle's bytes is the one checked."""
    data = pickle.dumps(_fitted_small(DropoutMLPRegressor))
    version = __version__.encode()
    assert data.count(version) == 1
    edited = data.replace(version, b"9.9.9")
    with pytest.warns(InconsistentSkdropVersionWarning, match="9.9.9"):
        pickle.loads(edited)


# -- generated corruptions of a saved state ------------------------------------
GENERATED_CASES = {"count": 0}



X_LOAD = np.random.default_rng(4).normal(size=(24, 3))
MODELS = {
    "multiclass adam": (DropoutMLPClassifier, np.arange(24) % 3, {}),
    "binary sgd": (
        DropoutMLPClassifier,
        (X_LOAD[:, 0] > 0).astype(int),
        {"solver": "sgd"},
    ),
    "multilabel": (DropoutMLPClassifier, (X_LOAD > 0).astype(int), {}),
    "regressor early stopping": (
        DropoutMLPRegressor,
        X_LOAD[:, 0],
        {"early_stopping": True},
    ),
    "poisson sgd": (
        DropoutMLPRegressor,
        np.abs(X_LOAD[:, :2]),
        {"loss": "poisson", "solver": "sgd"},
    ),
    "lbfgs": (
        DropoutMLPRegressor,
        X_LOAD[:, 0],
        {"solver": "lbfgs", "dropout_rate": 0.0},
    ),
}
_SAVED = {}


def _saved_state(name):
    if name not in _SAVED:
        cls, y, params = MODELS[name]
        model = cls(hidden_layer_sizes=(4, 3), max_iter=2, random_state=0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X_LOAD, y)
        _SAVED[name] = (cls, y, model.__getstate__())
    cls, y, state = _SAVED[name]
    return cls, y, copy.deepcopy(state)


DELETE = object()


def _corrupt(value, how, rng):
    """``value`` spoilt in the way ``how`` names (or DELETE)."""
    if how == "delete":
        return DELETE
    if how == "none":
        return None
    if how == "string":
        return "garbage"
    if how == "negative":
        return -3
    if how == "nan":
        return np.nan
    if how == "empty list":
        return []
    if isinstance(value, list) and value:
        index = int(rng.integers(len(value)))
        spoilt = list(value)
        if how == "truncate":
            return spoilt[:-1]
        spoilt[index] = _corrupt(spoilt[index], "reshape", rng)
        return spoilt
    if isinstance(value, np.ndarray):
        if how == "truncate":
            return value.ravel()[:-1]
        if how == "reshape":
            return np.zeros((value.size + 1, *value.shape[1:]), dtype=value.dtype)
        if how == "integers":
            return value.astype(np.int64)
        bad = value.astype(np.float64).copy()
        bad.flat[int(rng.integers(max(bad.size, 1)))] = np.inf
        return bad
    if isinstance(value, dict):
        spoilt = dict(value)
        if not spoilt:
            return "garbage"
        key = sorted(spoilt)[int(rng.integers(len(spoilt)))]
        spoilt[key] = _corrupt(spoilt[key], how, rng)
        if spoilt[key] is DELETE:
            del spoilt[key]
        return spoilt
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float | np.number):
        return value * 1e308 * 10 if how == "reshape" else -value - 1
    return 12345


HOW = ["delete", "none", "string", "negative", "nan", "empty list", "truncate",
       "reshape", "integers", "infinite"]  # fmt: skip


def _uses(cls, model, X, y):
    """Every use a loaded model can be put to: predictions, then more training."""
    if cls is DropoutMLPRegressor:
        outputs = [model.predict(X), *model.predict(X, return_std=True)]
    else:
        outputs = [model.predict_proba(X)]
    outputs.append(model.predict_samples(X, n_samples=2, random_state=0))
    for output in outputs:
        assert np.isfinite(output).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if hasattr(model, "partial_fit") and not model.early_stopping:
            model.partial_fit(X, y)
        model.set_params(warm_start=True).fit(X, y)


@settings(max_examples=150)
@given(
    name=st.sampled_from(sorted(MODELS)),
    index=st.integers(0, 10**6),
    how=st.sampled_from(HOW),
    seed=st.integers(0, 2**16),
)
def test_corrupted_state_fails_naming_the_attribute_or_works(name, index, how, seed):
    """Load a state with one attribute spoilt, then use the model every way.

    Either loading or a use raises ValueError/TypeError naming the attribute
    (for the optimiser, its saved attribute), or everything succeeds with
    finite outputs: never an internal error, never NaN.
    """
    GENERATED_CASES["count"] += 1
    cls, y, state = _saved_state(name)
    keys = sorted(k for k in state if k != "_skdrop_version")
    key = keys[index % len(keys)]
    rng = np.random.default_rng(seed)
    spoilt = _corrupt(state[key], how, rng)
    if spoilt is DELETE:
        del state[key]
    else:
        state[key] = spoilt
    # The optimiser's errors name its saved attribute rather than _optimizer.
    names = ("optimizer",) if key == "_optimizer" else (key, key.strip("_"))
    model = cls.__new__(cls)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.__setstate__(state)
        _uses(cls, model, X_LOAD, y)
    except (ValueError, TypeError) as exc:
        event(f"refused {key}")
        assert any(n in str(exc) for n in names), (key, how, str(exc))
        return
    event("worked")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "noise_variance_",
            np.array([-1.0]),
            "noise_variance_ must be finite and >= 0",
        ),
        ("_rng_state", {"state": "garbage"}, "_rng_state is not a PCG64"),
        ("n_features_in_", 7, "n_features_in_ is 7, but coefs_"),
        ("coefs_", [], "coefs_ must be a non-empty list"),
        ("activation", "swish", "activation 'swish' is not a known name"),
        ("best_loss_", "low", "best_loss_ must be a number or None"),
        ("loss_curve_", [1.0, None], "loss_curve_ must be a list of numbers"),
        ("_no_improvement_count", -1, "_no_improvement_count must be an int"),
    ],
)
def test_issue_examples_of_loaded_state_are_named(key, value, message):
    cls, _, state = _saved_state("regressor early stopping")
    state[key] = value
    with pytest.raises(ValueError, match=message):
        cls.__new__(cls).__setstate__(state)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda o: o.update(kind="rmsprop"), "Unknown optimizer kind 'rmsprop'"),
        (
            lambda o: o["attributes"].update(first_moment=np.zeros(3)),
            r"'first_moment' has shape \(3,\)",
        ),
        (lambda o: o["attributes"].update(t=np.nan), "'t' must be finite"),
        (lambda o: o.pop("attributes"), "must be a dict with the keys"),
    ],
)
def test_issue_examples_of_optimizer_state_are_named(edit, message):
    cls, _, state = _saved_state("multiclass adam")
    edit(state["_optimizer"])
    with pytest.raises(ValueError, match=message):
        cls.__new__(cls).__setstate__(state)


@pytest.mark.parametrize(
    "missing", ["alpha", "classes_", "_label_binarizer", "n_iter_"]
)
def test_missing_attribute_is_named(missing):
    cls, _, state = _saved_state("multiclass adam")
    del state[missing]
    with pytest.raises(ValueError, match=f"{missing} is missing"):
        cls.__new__(cls).__setstate__(state)


def test_copy_without_noise_variance_says_so():
    cls, _, state = _saved_state("regressor early stopping")
    del state["noise_variance_"]
    model = cls.__new__(cls)
    model.__setstate__(state)
    model.predict(X_LOAD)  # the whole network needs no noise variance
    with pytest.raises(ValueError, match="no noise_variance_"):
        model.predict(X_LOAD, return_std=True)


@settings(max_examples=20)
@given(
    dtypes=st.lists(st.sampled_from([np.float32, np.float64]), min_size=2, max_size=4),
    solver=st.sampled_from(["sgd", "adam"]),
)
def test_partial_fits_in_changing_dtypes_save_and_load(dtypes, solver):
    """The optimiser's state follows the network's dtype, so the file loads."""
    GENERATED_CASES["count"] += 1
    model = DropoutMLPRegressor(hidden_layer_sizes=(3,), solver=solver, random_state=0)
    for dtype in dtypes:
        model.partial_fit(X_LOAD.astype(dtype), X_LOAD[:, 0])
        loaded = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(loaded.predict(X_LOAD), model.predict(X_LOAD))
        assert model.coefs_[0].dtype == dtype


def _tampered_skops(data, key, how):
    """A skops file whose schema has the estimator's ``key`` deleted or replaced."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    content = schema["content"]["content"]
    if how == "delete":
        del content[key]
    else:
        content[key] = {
            "__class__": "str",
            "__module__": "builtins",
            "__loader__": "JsonNode",
            "content": json.dumps(how),
            "is_json": True,
            "__id__": 1,
        }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            payload = source.read(item.filename)
            if item.filename == "schema.json":
                payload = json.dumps(schema).encode()
            target.writestr(item, payload)
    return buffer.getvalue()


@needs_skops
@settings(max_examples=20)
@given(
    name=st.sampled_from(sorted(MODELS)),
    index=st.integers(0, 10**6),
    how=st.sampled_from(["delete", "garbage", "relu"]),
)
def test_tampered_skops_file_fails_naming_the_attribute_or_works(name, index, how):
    """The same property through skops: a file edited by hand."""
    GENERATED_CASES["count"] += 1
    cls, y, state = _saved_state(name)
    model = cls.__new__(cls)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.__setstate__(state)
    data = sio.dumps(model)
    keys = sorted(json.loads(zipfile.ZipFile(io.BytesIO(data)).read("schema.json"))[
        "content"]["content"])  # fmt: skip
    key = keys[index % len(keys)]
    names = ("optimizer",) if key == "_optimizer" else (key, key.strip("_"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = sio.loads(_tampered_skops(data, key, how), trusted=[cls])
        _uses(cls, loaded, X_LOAD, y)
    except (ValueError, TypeError) as exc:
        assert any(n in str(exc) for n in names), (key, how, str(exc))
