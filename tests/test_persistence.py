"""Saving and loading fitted estimators: pickle, joblib and skops.

A loaded model must predict exactly as the saved one, and ``partial_fit``
must continue from it exactly as if it had never been saved: the optimiser's
moments and the random stream are part of the saved state.
"""

import pickle

import joblib
import numpy as np
import pytest

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor

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
