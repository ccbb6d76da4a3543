"""ONNX export: onnxruntime must predict what skdrop predicts."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")
skdrop_onnx = pytest.importorskip("skdrop.onnx")
from skl2onnx import to_onnx  # noqa: E402

ATOL = 1e-5
NO_ZIPMAP = {"zipmap": False}


def _run(model, X, options=None, dtype=np.float32):
    onx = to_onnx(model, X[:1].astype(dtype), options=options)
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    outputs = session.run(None, {session.get_inputs()[0].name: X.astype(dtype)})
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, outputs, strict=True))


def _X(n_rows=150, n_features=5, seed=0):
    return np.random.RandomState(seed).standard_normal((n_rows, n_features))


def _fit_classifier(X, y, **params):
    params = {"hidden_layer_sizes": (9, 6), "max_iter": 30, "random_state": 0, **params}
    return DropoutMLPClassifier(**params).fit(X, y)


def _assert_classifier_matches(model, X, options=NO_ZIPMAP):
    out = _run(model, X, options)
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X), atol=ATOL)
    # Labels agree wherever the top probability is not a near tie.
    proba = np.sort(model.predict_proba(X), axis=1)
    clear = proba[:, -1] - proba[:, -2] > 1e-4
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(out["label"][clear], model.predict(X)[clear])
    return out


pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity", "selu"])
def test_binary_classifier(activation):
    X = _X()
    y = np.where(X[:, 0] - X[:, 1] > 0, "spam", "ham")
    model = _fit_classifier(X, y, activation=activation)
    out = _assert_classifier_matches(model, X)
    assert out["label"].dtype.kind in "OU"
    assert out["probabilities"].shape == (len(X), 2)


@pytest.mark.parametrize("activation", ["relu", "selu"])
def test_multiclass_classifier(activation):
    X = _X()
    y = np.digitize(X[:, 0] + X[:, 2], [-0.7, 0.0, 0.7]) * 10
    model = _fit_classifier(X, y, activation=activation, learning_rate_init=0.01)
    out = _assert_classifier_matches(model, X)
    assert out["label"].dtype == np.int64
    assert set(out["label"]) <= {0, 10, 20, 30}
    assert out["probabilities"].shape == (len(X), 4)


def test_multilabel_classifier():
    X = _X()
    Y = (X[:, :3] > 0).astype(int)
    model = _fit_classifier(X, Y, learning_rate_init=0.01)
    out = _run(model, X, NO_ZIPMAP)
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X), atol=ATOL)
    clear = np.abs(model.predict_proba(X) - 0.5).min(axis=1) > 1e-4
    np.testing.assert_array_equal(out["label"][clear], model.predict(X)[clear])


def test_classifier_zipmap_by_default():
    """Like scikit-learn's classifiers, probabilities become a list of dicts."""
    X = _X()
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    model = _fit_classifier(X, y)
    labels, rows = _run(model, X[:5], options=None).values()
    proba = model.predict_proba(X[:5])
    np.testing.assert_array_equal(labels, model.predict(X[:5]))
    assert len(rows) == 5
    for row, expected in zip(rows, proba, strict=True):
        assert sorted(row) == [0, 1, 2]
        np.testing.assert_allclose([row[c] for c in (0, 1, 2)], expected, atol=ATOL)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_regressor(loss, n_outputs):
    X = _X()
    y = np.abs(X[:, :n_outputs] * [1.0, 2.0, -1.0][:n_outputs] + 0.5)
    model = DropoutMLPRegressor(
        loss=loss, hidden_layer_sizes=(10,), max_iter=30, random_state=0
    ).fit(X, y if n_outputs > 1 else y.ravel())
    out = _run(model, X)["variable"]
    assert out.shape == (len(X), n_outputs)
    expected = model.predict(X).reshape(len(X), n_outputs)
    np.testing.assert_allclose(out, expected, atol=ATOL, rtol=1e-5)


def test_regressor_selu_and_float32_training():
    X = _X().astype(np.float32)
    model = DropoutMLPRegressor(
        hidden_layer_sizes=(8, 8),
        activation="selu",
        dropout_type="alpha",
        max_iter=30,
        random_state=0,
    ).fit(X, X[:, 0] - 2 * X[:, 1])
    assert model.coefs_[0].dtype == np.float32
    out = _run(model, X)["variable"].ravel()
    np.testing.assert_allclose(out, model.predict(X), atol=ATOL)


def test_double_input_keeps_double_precision():
    X = _X()
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    model = _fit_classifier(X, y)
    out = _run(model, X, NO_ZIPMAP, dtype=np.float64)
    assert out["probabilities"].dtype == np.float64
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X), atol=1e-12)


def test_pipeline_classifier():
    X = _X() * [1, 10, 100, 1000, 0.1] + 5
    y = np.where(X[:, 1] > 5, 1, 0)
    pipe = make_pipeline(
        StandardScaler(),
        DropoutMLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0),
    ).fit(X, y)
    out = _run(pipe, X, options={id(pipe[-1]): NO_ZIPMAP})
    np.testing.assert_allclose(out["probabilities"], pipe.predict_proba(X), atol=ATOL)
    assert (out["label"] == pipe.predict(X)).mean() > 0.98


def test_pipeline_regressor():
    X = _X() * [1, 10, 100, 1000, 0.1] + 5
    y = X[:, 0] + X[:, 1] / 10
    pipe = make_pipeline(
        StandardScaler(),
        DropoutMLPRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=0),
    ).fit(X, y)
    out = _run(pipe, X)["variable"].ravel()
    np.testing.assert_allclose(out, pipe.predict(X), atol=ATOL)


def test_single_class_is_refused():
    X = _X(20)
    model = DropoutMLPClassifier(hidden_layer_sizes=(3,), max_iter=2).fit(X, [1] * 20)
    with pytest.raises(NotImplementedError, match="single class"):
        to_onnx(model, X[:1].astype(np.float32), options=NO_ZIPMAP)


def test_dropout_is_absent_from_the_graph():
    """Inverted dropout needs no rescaling: the graph is the plain network."""
    X = _X()
    y = np.digitize(X[:, 0], [0.0])
    model = _fit_classifier(X, y, dropout_rate=0.5, input_dropout_rate=0.2)
    onx = to_onnx(model, X[:1].astype(np.float32), options=NO_ZIPMAP)
    op_types = [node.op_type for node in onx.graph.node]
    assert op_types.count("MatMul") == len(model.coefs_)
    assert "Dropout" not in op_types


@pytest.mark.parametrize("attribute", ["coefs_", "intercepts_"])
def test_non_finite_weights_are_not_exported(attribute):
    X = _X()
    model = _fit_classifier(X, np.digitize(X[:, 0], [0.0]))
    getattr(model, attribute)[-1][0] = np.nan
    last = len(model.coefs_) - 1
    with pytest.raises(ValueError, match=rf"{attribute}\[{last}\] contains inf"):
        to_onnx(model, X[:1].astype(np.float32), options=NO_ZIPMAP)


def test_labels_beyond_int64_are_refused_rather_than_wrapped():
    X = _X()
    big = np.array([2**63, 2**63 + 1], dtype=np.uint64)
    model = _fit_classifier(X, big[np.digitize(X[:, 0], [0.0])])
    with pytest.raises(ValueError, match="outside its range"):
        to_onnx(model, X[:1].astype(np.float32), options=NO_ZIPMAP)
    labels = np.array([7, 2**62], dtype=np.uint64)
    small = _fit_classifier(X, labels[(X[:, 0] > 0).astype(int)])
    out = _run(small, X, NO_ZIPMAP)
    assert set(out["label"].tolist()) <= {7, 2**62}


def test_learned_rates_export_the_whole_network():
    # The exported graph is the network without dropout: the learned rates
    # only matter to Monte Carlo prediction, which ONNX does not export.
    X = _X()
    y = X[:, 0] - 2 * X[:, 1]
    model = DropoutMLPRegressor(
        dropout_rate="auto", hidden_layer_sizes=(10,), max_iter=30, random_state=0
    ).fit(X, y)
    out = _run(model, X)["variable"]
    np.testing.assert_allclose(out.ravel(), model.predict(X), atol=ATOL, rtol=1e-5)
