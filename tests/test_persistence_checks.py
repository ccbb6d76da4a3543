"""Checks of a loaded model's state: a state edited by hand or by another
program (hand-picked and generated corruptions of pickles and skops files)
fails with an error naming the attribute, at loading or at the first use,
never with garbage; an untouched state loads.

Round trips and the safety of loading (skops trust, versions of pickles):
test_persistence.py.
"""

import copy
import io
import json
import pickle
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor

try:
    import skops.io as sio
except ImportError:  # skops is optional: pickle and joblib are still tested
    sio = None

needs_skops = pytest.mark.skipif(sio is None, reason="skops is not installed")


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
