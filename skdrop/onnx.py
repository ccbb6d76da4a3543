"""Export skdrop estimators to ONNX with skl2onnx.

Importing this module registers a shape calculator and a converter for
:class:`~skdrop.DropoutMLPClassifier` and :class:`~skdrop.DropoutMLPRegressor`
with skl2onnx, so ``skl2onnx.to_onnx`` converts them, alone or inside a
:class:`~sklearn.pipeline.Pipeline`::

    import skdrop.onnx  # noqa: F401  (registers the converters)
    from skl2onnx import to_onnx

    onx = to_onnx(model, X[:1].astype(np.float32))

The exported graph is the deterministic network that ``predict`` uses
(inverted dropout needs no rescaling at inference, so dropout leaves no
trace in it): ``MatMul`` and ``Add`` per layer, the hidden activation, and
the output activation. The outputs follow scikit-learn's ``MLPClassifier``
and ``MLPRegressor`` converters: a classifier returns ``label`` and
``probabilities`` (a ZipMap of them unless ``options={"zipmap": False}``),
a regressor returns ``variable`` of shape ``(n_rows, n_outputs)``. Monte
Carlo dropout (``predict_samples``, ``return_std``) is not exported.

Requires the ``onnx`` extra: ``pip install skdrop[onnx]``.
"""

import numpy as np

try:
    from onnx import TensorProto
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )
except ImportError as exc:
    raise ImportError(
        "skdrop.onnx needs skl2onnx and onnx; install them with "
        "`pip install skdrop[onnx]`."
    ) from exc

from ._classifier import DropoutMLPClassifier
from ._core.activations import SELU_ALPHA, SELU_SCALE
from ._regressor import DropoutMLPRegressor
from ._validation import target_type

__all__ = ["CLASSIFIER_ALIAS", "REGRESSOR_ALIAS"]

CLASSIFIER_ALIAS = "SkdropDropoutMLPClassifier"
REGRESSOR_ALIAS = "SkdropDropoutMLPRegressor"

# ONNX operators of the activations, with their attributes. Selu's default
# constants are rounded to float32; spelling them out keeps double graphs
# as exact as skdrop.
_ACTIVATION_NODES = {
    "identity": ("Identity", {}),
    "logistic": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "relu": ("Relu", {}),
    "selu": ("Selu", {"alpha": SELU_ALPHA, "gamma": SELU_SCALE}),
    "softmax": ("Softmax", {"axis": 1}),
    "exp": ("Exp", {}),
}


# -- shape calculators ----------------------------------------------------
def _float_type(operator):
    """Double in, double math; float32 for any other input type."""
    if isinstance(operator.inputs[0].type, DoubleTensorType):
        return DoubleTensorType
    return FloatTensorType


def _regressor_shapes(operator):
    """``variable``: one column per output."""
    model = operator.raw_operator
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = _float_type(operator)([n_rows, model.n_outputs_])


def _classifier_shapes(operator):
    """``label`` (class or indicator per row) and ``probabilities``."""
    model = operator.raw_operator
    n_rows = operator.inputs[0].get_first_dimension()
    n_classes = len(model.classes_)
    if _is_multilabel(model):
        label_type = Int64TensorType([n_rows, n_classes])
    else:
        classes, _ = _label_classes(model)
        tensor_type = StringTensorType if classes.dtype.kind == "U" else Int64TensorType
        label_type = tensor_type([n_rows])
    operator.outputs[0].type = label_type
    operator.outputs[1].type = _float_type(operator)([n_rows, n_classes])


# -- converters -----------------------------------------------------------
def _convert_regressor(scope, operator, container):
    """Graph of ``DropoutMLPRegressor.predict``."""
    output = _network(scope, operator, container)
    container.add_node(
        "Identity",
        output,
        operator.outputs[0].full_name,
        name=scope.get_unique_operator_name("Identity"),
    )


def _convert_classifier(scope, operator, container):
    """Graph of ``predict`` (``label``) and ``predict_proba`` (``probabilities``)."""
    model = operator.raw_operator
    if len(model.classes_) < 2:
        raise NotImplementedError(
            "A DropoutMLPClassifier fitted on a single class cannot be exported "
            "to ONNX: it has no network output to convert."
        )
    output = _network(scope, operator, container)
    label, probabilities = (out.full_name for out in operator.outputs)
    if _is_multilabel(model):
        _node(scope, container, "Identity", [output], probabilities)
        _multilabel_labels(scope, container, output, label, _proto_dtype(operator))
        return
    if model.n_outputs_ == 1:
        _two_columns(scope, container, output, probabilities, _proto_dtype(operator))
    else:
        _node(scope, container, "Identity", [output], probabilities)
    _labels_of_argmax(scope, container, model, probabilities, label)


# -- graph pieces ---------------------------------------------------------
def _node(scope, container, op_type, inputs, output=None, **attributes):
    """Add one node; return the name of its (new, unless given) output."""
    if output is None:
        output = scope.get_unique_variable_name(op_type.lower())
    container.add_node(
        op_type,
        inputs,
        output,
        name=scope.get_unique_operator_name(op_type),
        **attributes,
    )
    return output


def _constant(scope, container, name, proto_dtype, array):
    """Add an initializer holding ``array``; return its name."""
    array = np.asarray(array)
    unique = scope.get_unique_variable_name(name)
    if array.dtype.kind == "U":
        values = [value.encode("utf-8") for value in array.ravel()]
    else:
        values = array.ravel().tolist()
    container.add_initializer(unique, proto_dtype, list(array.shape), values)
    return unique


def _proto_dtype(operator):
    if _float_type(operator) is DoubleTensorType:
        return TensorProto.DOUBLE
    return TensorProto.FLOAT


def _network(scope, operator, container):
    """The forward pass without dropout; return the output's name."""
    model = operator.raw_operator
    _check_finite_weights(model)
    proto_dtype = _proto_dtype(operator)
    activation = _node(
        scope, container, "Cast", [operator.inputs[0].full_name], to=proto_dtype
    )
    last = len(model.coefs_) - 1
    for i, (coef, intercept) in enumerate(
        zip(model.coefs_, model.intercepts_, strict=True)
    ):
        weights = _constant(scope, container, f"coef_{i}", proto_dtype, coef)
        bias = _constant(scope, container, f"intercept_{i}", proto_dtype, intercept)
        product = _node(scope, container, "MatMul", [activation, weights])
        pre_activation = _node(scope, container, "Add", [product, bias])
        name = model.out_activation_ if i == last else model.activation
        op_type, attributes = _ACTIVATION_NODES[name]
        activation = _node(scope, container, op_type, [pre_activation], **attributes)
    return activation


def _check_finite_weights(model):
    for name in ("coefs_", "intercepts_"):
        for i, array in enumerate(getattr(model, name)):
            if not np.isfinite(array).all():
                raise ValueError(
                    f"Cannot export {type(model).__name__} to ONNX: {name}[{i}] "
                    "contains infinity or NaN, so every prediction would be "
                    "NaN. Refit the model."
                )


def _two_columns(scope, container, positive, probabilities, proto_dtype):
    """``[1 - p, p]`` from the single logistic output of a binary problem."""
    one = _constant(scope, container, "one", proto_dtype, np.ones(1))
    negative = _node(scope, container, "Sub", [one, positive])
    _node(scope, container, "Concat", [negative, positive], probabilities, axis=1)


def _labels_of_argmax(scope, container, model, probabilities, label):
    """The class of the largest probability, as ``predict`` picks it."""
    classes, proto_dtype = _label_classes(model)
    table = _constant(scope, container, "classes", proto_dtype, classes)
    index = _node(scope, container, "ArgMax", [probabilities], axis=1, keepdims=0)
    _node(scope, container, "Gather", [table, index], label, axis=0)


def _multilabel_labels(scope, container, output, label, proto_dtype):
    """Indicator matrix: each label is on where its probability exceeds 0.5."""
    half = _constant(scope, container, "half", proto_dtype, np.full(1, 0.5))
    on = _node(scope, container, "Greater", [output, half])
    _node(scope, container, "Cast", [on], label, to=TensorProto.INT64)


def _is_multilabel(model):
    return target_type(model).startswith("multilabel")


def _label_classes(model):
    """``classes_`` in an ONNX label type: int64 or string tensors.

    Floating-point classes are exported when they are whole numbers (as
    int64), like scikit-learn's converter does; others cannot be labels of
    the ZipMap that follows a classifier.
    """
    classes = np.asarray(model.classes_)
    if classes.dtype.kind in "biu":
        int64 = np.iinfo(np.int64)
        if classes.size and (classes.max() > int64.max or classes.min() < int64.min):
            raise ValueError(
                "ONNX labels are int64; classes_ holds integers outside its "
                f"range (largest {classes.max()}). Encode the labels as "
                "strings or smaller integers before fitting."
            )
        return classes.astype(np.int64), TensorProto.INT64
    if classes.dtype.kind == "f":
        if not np.array_equal(classes, np.round(classes)):
            raise NotImplementedError(
                "ONNX export needs integer or string class labels; got "
                f"non-integral floats {classes!r}."
            )
        return classes.astype(np.int64), TensorProto.INT64
    return classes.astype(str), TensorProto.STRING


def _register():
    update_registered_converter(
        DropoutMLPRegressor,
        REGRESSOR_ALIAS,
        _regressor_shapes,
        _convert_regressor,
    )
    update_registered_converter(
        DropoutMLPClassifier,
        CLASSIFIER_ALIAS,
        _classifier_shapes,
        _convert_classifier,
        options={"zipmap": [True, False, "columns"], "nocl": [False, True]},
    )


_register()
