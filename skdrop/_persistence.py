"""Saving and loading the estimators: pickled state, version, sanity checks.

A pickled estimator records the skdrop version that saved it, stores its
optimiser as a plain dict (so skops needs to trust the estimator class only)
and, when loaded, is checked for a consistent structure: a file edited by
hand or by another program fails on loading with an error naming the
attribute, rather than later with a wrong prediction.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.preprocessing import LabelBinarizer

from ._core.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from ._core.losses import LOSSES, output_activations_of
from ._core.optimizers import Optimizer
from ._version import __version__


class InconsistentSkdropVersionWarning(InconsistentVersionWarning):
    """An estimator is unpickled with a skdrop version other than its own.

    A subclass of scikit-learn's ``InconsistentVersionWarning``, so a filter
    on that warning also covers this one.
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        super().__init__(
            estimator_name=estimator_name,
            current_sklearn_version=current_version,
            original_sklearn_version=original_version,
        )

    def __str__(self):
        return (
            f"Trying to unpickle estimator {self.estimator_name} from skdrop "
            f"version {self.original_sklearn_version} when using version "
            f"{self.current_sklearn_version}. This might lead to breaking code "
            "or invalid results. Use at your own risk. Refit the estimator "
            "with the installed version, or install the version it was "
            "saved with."
        )


class PersistenceMixin:
    """``__getstate__`` / ``__setstate__`` of the dropout estimators."""

    def __getstate__(self):
        """The pickled state records the skdrop version, as scikit-learn's does."""
        state = dict(super().__getstate__(), _skdrop_version=__version__)
        if state.get("_optimizer") is not None:
            state["_optimizer"] = state["_optimizer"].to_state()
        return state

    def __setstate__(self, state):
        """Restore a pickled state; warn if another skdrop version saved it.

        Raises ``ValueError`` naming the attribute if the state is not that
        of a consistent model (see :func:`check_fitted_state`).
        """
        state = dict(state)
        pickle_version = state.pop("_skdrop_version", "unknown (older than 0.1.0)")
        if pickle_version != __version__:
            warnings.warn(
                InconsistentSkdropVersionWarning(
                    estimator_name=type(self).__name__,
                    current_version=__version__,
                    original_version=pickle_version,
                ),
                stacklevel=2,
            )
        for name in self._get_param_names():
            if name not in state:
                _fail(name, "is missing: the file does not hold a whole estimator")
        check_fitted_state(state, _estimator_kind(self))
        if state.get("_optimizer") is not None:
            if "coefs_" not in state:
                _fail("_optimizer", "is set, but the model has no coefs_")
            coefs = state["coefs_"]
            n_params = sum(c.size for c in coefs + state["intercepts_"])
            # Learned dropout rates are trained with the weights.
            n_params += len(state.get("_learned_rate_layers", []))
            state["_optimizer"] = Optimizer.from_state(
                state["_optimizer"], n_params, coefs[0].dtype
            )
        super().__setstate__(state)


def _estimator_kind(estimator):
    if is_classifier(estimator):
        return "classifier"
    return "regressor" if is_regressor(estimator) else None


# Attributes every fitted estimator has, and those of each kind, with the
# output activations each kind can have.
FITTED_ATTRIBUTES = (
    "coefs_",
    "intercepts_",
    "n_layers_",
    "n_outputs_",
    "out_activation_",
    "n_features_in_",
    "n_iter_",
    "t_",
)
FITTED_ATTRIBUTES_OF_KIND = {
    "classifier": ("classes_", "_label_binarizer"),
    # noise_variance_ is checked when present: copies taken during the first
    # fit have none yet, and predict(return_std=True) says so.
    "regressor": (),
}


def _fail(attribute, problem):
    raise ValueError(f"The loaded model's {attribute} {problem}.")


def check_fitted_state(state, kind=None):
    """Check the structure of a fitted estimator's ``__dict__``.

    Does nothing for an unfitted estimator (none of ``FITTED_ATTRIBUTES``). ``kind`` is
    ``'classifier'``, ``'regressor'`` or ``None`` (only the checks common to
    both). Raises ``ValueError`` naming the first attribute found missing or
    inconsistent.
    """
    if not any(name in state for name in FITTED_ATTRIBUTES):
        return
    for name in FITTED_ATTRIBUTES + FITTED_ATTRIBUTES_OF_KIND.get(kind, ()):
        if name not in state:
            _fail(name, "is missing: the file does not hold a whole fitted model")
    coefs, intercepts = state["coefs_"], state.get("intercepts_")
    _check_layers(coefs, intercepts)
    if state["n_features_in_"] != coefs[0].shape[0]:
        _fail(
            "n_features_in_",
            f"is {state['n_features_in_']!r:.50}, but coefs_[0] has "
            f"{coefs[0].shape[0]} rows (one per feature)",
        )
    if not _is_count(state["n_iter_"]):
        _fail("n_iter_", f"must be an int >= 0, got {state['n_iter_']!r:.50}")
    if "t_" in state and not _is_count(state["t_"]):
        _fail("t_", f"must be an int >= 0, got {state['t_']!r:.50}")
    n_outputs = coefs[-1].shape[1]
    if state.get("n_layers_") != len(coefs) + 1:
        _fail("n_layers_", f"is {state.get('n_layers_')!r}, expected {len(coefs) + 1}")
    if state.get("n_outputs_") != n_outputs:
        _fail("n_outputs_", f"is {state.get('n_outputs_')!r}, expected {n_outputs}")
    if not _is_name_in(state.get("activation"), HIDDEN_ACTIVATIONS):
        _fail("activation", f"{state.get('activation')!r:.50} is not a known name")
    if not _is_name_in(state.get("out_activation_"), OUTPUT_ACTIVATIONS):
        _fail(
            "out_activation_",
            f"{state.get('out_activation_')!r:.50} is not a known name",
        )
    if kind is not None:
        _check_output_activation(state, kind)
    _check_classes(state, n_outputs)
    _check_records(state)
    if "feature_names_in_" in state:
        names = state["feature_names_in_"]
        if np.ndim(names) != 1 or len(names) != state["n_features_in_"]:
            _fail("feature_names_in_", "must hold one name per feature")
    if "noise_variance_" in state:
        _check_noise_variance(state["noise_variance_"], n_outputs)
    _check_dropout_rates(state, n_hidden=len(coefs) - 1)
    _check_generator_state(state.get("_rng_state"))


def _is_rate(value):
    return _is_real(value) and 0 <= value < 1


def _check_dropout_rates(state, n_hidden):
    """The rates a fit used (fixed or learned) and the layers it learned."""
    if "dropout_rates_" in state:
        rates = state["dropout_rates_"]
        if not (
            isinstance(rates, np.ndarray)
            and rates.shape == (n_hidden,)
            and all(_is_rate(r) for r in rates.tolist())
        ):
            _fail("dropout_rates_", f"must be {n_hidden} rates in [0, 1)")
    if "input_dropout_rate_" in state and not _is_rate(state["input_dropout_rate_"]):
        _fail("input_dropout_rate_", "must be a rate in [0, 1)")
    learned = state.get("_learned_rate_layers", [])
    if not (
        isinstance(learned, list)
        and all(_is_count(i) and i <= n_hidden for i in learned)
        and len(set(learned)) == len(learned)
    ):
        _fail("_learned_rate_layers", f"must be distinct layers 0..{n_hidden}")
    if learned and not {"dropout_rates_", "input_dropout_rate_"} <= state.keys():
        _fail("_learned_rate_layers", "is set, but the learned rates are missing")
    curve = state.get("dropout_free_loss_curve_")
    if curve is not None and not _is_list_of_reals(curve):
        _fail("dropout_free_loss_curve_", "must be a list of numbers or None")


def _is_name_in(name, registry):
    return isinstance(name, str) and name in registry


def _check_layers(coefs, intercepts):
    if not isinstance(coefs, list) or not coefs:
        _fail("coefs_", "must be a non-empty list of arrays")
    if not isinstance(intercepts, list) or len(intercepts) != len(coefs):
        _fail("intercepts_", f"must be a list of {len(coefs)} arrays, like coefs_")
    dtype = getattr(coefs[0], "dtype", None)
    if dtype not in (np.float32, np.float64):
        _fail("coefs_", f"must hold float32 or float64 arrays, got {dtype}")
    fan_in = coefs[0].shape[0] if coefs[0].ndim == 2 else None
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        for name, array, ndim in ((f"coefs_[{i}]", W, 2), (f"intercepts_[{i}]", b, 1)):
            if not isinstance(array, np.ndarray) or array.dtype != dtype:
                _fail(name, f"must be a {dtype} array like coefs_[0]")
            if array.ndim != ndim:
                _fail(name, f"must have {ndim} dimensions, has {array.ndim}")
            if not np.isfinite(array).all():
                _fail(name, "contains infinity or NaN")
        if W.shape[0] != fan_in:
            _fail(f"coefs_[{i}]", f"has {W.shape[0]} rows, expected {fan_in}")
        if b.shape != (W.shape[1],):
            _fail(f"intercepts_[{i}]", f"has shape {b.shape}, expected ({W.shape[1]},)")
        fan_in = W.shape[1]


def _is_count(value):
    return (
        isinstance(value, Integral | np.integer)
        and not isinstance(value, bool)
        and value >= 0
    )


def _check_output_activation(state, kind):
    """The output activation must be one of this kind of estimator's, for its loss."""
    activation = state["out_activation_"]
    # Read from the registered losses, so that a new loss's activation is
    # accepted for the estimator that offers it and for no other.
    allowed = output_activations_of(kind)
    if activation not in allowed:
        _fail(
            "out_activation_",
            f"{activation!r} is not the output activation of a {kind}; expected "
            f"one of {sorted(allowed)}",
        )
    if kind == "regressor" and _is_name_in(state.get("loss"), LOSSES):
        expected = LOSSES[state["loss"]].output_activation
        if activation != expected:
            _fail(
                "out_activation_",
                f"{activation!r} does not belong to loss={state['loss']!r}, "
                f"which has {expected!r}",
            )


def _check_label_binarizer(state):
    binarizer = state["_label_binarizer"]
    if not isinstance(binarizer, LabelBinarizer) or not hasattr(binarizer, "y_type_"):
        _fail("_label_binarizer", "must be a fitted LabelBinarizer")
    if binarizer.y_type_ not in ("binary", "multiclass", "multilabel-indicator"):
        _fail(
            "_label_binarizer", f"has an unknown target type {binarizer.y_type_!r:.50}"
        )
    classes = np.asarray(state["classes_"])
    binarizer_classes = np.asarray(getattr(binarizer, "classes_", None))
    if classes.shape != binarizer_classes.shape or not np.array_equal(
        classes, binarizer_classes
    ):
        _fail("classes_", "differs from the classes of _label_binarizer")
    softmax = binarizer.y_type_ == "multiclass"
    if (state["out_activation_"] == "softmax") != softmax:
        _fail(
            "out_activation_",
            f"{state['out_activation_']!r} does not fit the "
            f"{binarizer.y_type_!r} target of _label_binarizer",
        )


def _check_classes(state, n_outputs):
    if "classes_" not in state:
        return
    if np.ndim(state["classes_"]) != 1:
        _fail("classes_", "must be a 1-D array of labels")
    n_classes = len(state["classes_"])
    binarizer = state.get("_label_binarizer")
    multilabel = getattr(binarizer, "y_type_", "").startswith("multilabel")
    expected = n_outputs == n_classes or (
        not multilabel and n_outputs == 1 and n_classes <= 2
    )
    if not expected:
        _fail("classes_", f"has {n_classes} classes for {n_outputs} outputs")
    if "_label_binarizer" in state:
        _check_label_binarizer(state)


def _is_real(value):
    return (
        isinstance(value, Real | np.floating | np.integer)
        and not isinstance(value, bool)
        and not np.isnan(value)
    )


def _is_list_of_reals(value):
    return isinstance(value, list) and all(_is_real(v) for v in value)


# The records of the epoch loop that training reads back: attribute -> (check,
# what it must be). Each may be absent (an L-BFGS fit has none).
RECORDS = {
    "loss_": (_is_real, "a number"),
    "best_loss_": (lambda v: v is None or _is_real(v), "a number or None"),
    "loss_curve_": (_is_list_of_reals, "a list of numbers"),
    "validation_scores_": (
        lambda v: v is None or _is_list_of_reals(v),
        "a list of numbers or None",
    ),
    "best_validation_score_": (
        lambda v: v is None or _is_real(v),
        "a number or None",
    ),
    "_no_improvement_count": (_is_count, "an int >= 0"),
}


def _check_records(state):
    present = [name for name in RECORDS if name != "loss_" and name in state]
    if present:
        # The epoch loop keeps all of them or (after L-BFGS) none.
        for name in RECORDS:
            if name != "loss_" and name not in state:
                _fail(name, f"is missing, though {present[0]} is present")
    for name, (check, expected) in RECORDS.items():
        if name in state and not check(state[name]):
            _fail(name, f"must be {expected}, got {state[name]!r:.50}")
    if present:
        # Early stopping tracks the best score, otherwise the best loss.
        tracked = (
            "best_validation_score_"
            if state["validation_scores_"] is not None
            else "best_loss_"
        )
        if state[tracked] is None:
            scores = "a list" if tracked == "best_validation_score_" else "None"
            _fail(tracked, f"is None, though validation_scores_ is {scores}")


def _check_noise_variance(noise_variance, n_outputs):
    array = np.asarray(noise_variance)
    if array.shape != (n_outputs,) or array.dtype.kind != "f":
        _fail(
            "noise_variance_",
            f"must be a float array of shape ({n_outputs},), got {array.shape}",
        )
    if not (np.isfinite(array).all() and (array >= 0).all()):
        _fail("noise_variance_", "must be finite and >= 0")


def _check_generator_state(rng_state):
    if rng_state is None:
        return
    try:
        np.random.PCG64().state = rng_state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        _fail("_rng_state", f"is not a PCG64 generator state ({exc})")
