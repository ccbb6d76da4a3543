"""Loading is safe: skops refuses types the user did not trust, and pickles
from another skdrop version warn, as scikit-learn's own pickles do."""

import io
import pickle
import warnings
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.exceptions import InconsistentVersionWarning

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor, __version__
from skdrop._persistence import InconsistentSkdropVersionWarning

X = np.random.default_rng(0).normal(size=(30, 3))
Y = {DropoutMLPClassifier: np.arange(30) % 3, DropoutMLPRegressor: X[:, 0]}


def _fitted(cls):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(X, Y[cls])


class Payload:
    """A type nobody trusted: loading it could run arbitrary code."""

    def __reduce__(self):
        return (print, ("pwned",))


class Innocent:
    """A plain user class carried by the estimator."""


# -- skops ----------------------------------------------------------------
@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_skops_round_trip_needs_only_skdrop_types(cls):
    estimator = _fitted(cls)
    dumped = sio.dumps(estimator)
    untrusted = sio.get_untrusted_types(data=dumped)
    assert all(t.startswith("skdrop.") for t in untrusted), untrusted
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.loads(dumped)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        loaded = sio.loads(dumped, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_skops_refuses_a_smuggled_type(cls):
    """A file carrying an extra type is refused even when skdrop's are trusted."""
    estimator = _fitted(cls)
    trusted = sio.get_untrusted_types(data=sio.dumps(estimator))
    estimator.extra_ = Innocent()
    dumped = sio.dumps(estimator)
    smuggled = f"{Innocent.__module__}.Innocent"
    assert smuggled in sio.get_untrusted_types(data=dumped)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException, match="Innocent"):
        sio.loads(dumped, trusted=trusted)


def test_skops_refuses_a_tampered_type_name():
    """A file edited by hand to name another type is refused."""
    estimator = _fitted(DropoutMLPClassifier)
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


def test_pickle_payloads_are_outside_skops():
    """skops cannot even serialise an object that pickles as a function call."""
    estimator = _fitted(DropoutMLPRegressor)
    estimator.extra_ = Payload()
    with pytest.raises(Exception):  # noqa: B017 - skops raises its own types
        sio.loads(sio.dumps(estimator), trusted=[])


# -- version of pickles --------------------------------------------------------
@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_pickle_records_the_skdrop_version(cls):
    estimator = _fitted(cls)
    state = estimator.__getstate__()
    assert state["_skdrop_version"] == __version__
    assert "_skdrop_version" not in vars(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        restored = pickle.loads(pickle.dumps(estimator))
    assert "_skdrop_version" not in vars(restored)
    np.testing.assert_array_equal(restored.predict(X), estimator.predict(X))


def _unpickle_with_state(cls, edit):
    estimator = _fitted(cls)
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
    np.testing.assert_array_equal(restored.predict(X), estimator.predict(X))


def test_pickle_without_version_warns():
    with pytest.warns(InconsistentSkdropVersionWarning, match="unknown"):
        _unpickle_with_state(
            DropoutMLPClassifier, lambda state: state.pop("_skdrop_version")
        )


def test_edited_pickle_bytes_warn():
    """The version stored in the pickle's bytes is the one checked."""
    data = pickle.dumps(_fitted(DropoutMLPRegressor))
    version = __version__.encode()
    assert data.count(version) == 1
    edited = data.replace(version, b"9.9.9")
    with pytest.warns(InconsistentSkdropVersionWarning, match="9.9.9"):
        pickle.loads(edited)
