"""Saving and loading fitted estimators: pickle, joblib and skops.

A loaded model must predict exactly as the saved one, and ``partial_fit``
must continue from it exactly as if it had never been saved: the optimiser's
moments and the random stream are part of the saved state. Loading is safe:
skops refuses types the user did not trust, pickles from another skdrop
version warn as scikit-learn's own do, and a state edited by hand or by
another program fails with an error naming the attribute, at loading or at
the first use, never with garbage (test_persistence_checks.py).
"""

import io
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pytest
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
    # Learned rates: their logits are part of the saved parameters.
    ("regression", {"dropout_rate": "auto", "input_dropout_rate": "auto"}),
    ("multiclass", {"dropout_rate": "auto"}),
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
