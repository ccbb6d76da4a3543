"""Saving and loading the estimators: pickled state, version, sanity checks.

A pickled estimator records the skdrop version that saved it, stores its
optimiser as a plain dict (so skops needs to trust the estimator class only)
and, when loaded, is checked for a consistent structure: a file edited by
hand or by another program fails on loading with an error naming the
attribute, rather than later with a wrong prediction.
"""

import warnings

import numpy as np
from sklearn.exceptions import InconsistentVersionWarning

from ._activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from ._optimizers import Optimizer
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
        check_fitted_state(state)
        if isinstance(state.get("_optimizer"), dict):
            coefs = state["coefs_"]
            n_params = sum(c.size for c in coefs + state["intercepts_"])
            state["_optimizer"] = Optimizer.from_state(
                state["_optimizer"], n_params, coefs[0].dtype
            )
        super().__setstate__(state)


def _fail(attribute, problem):
    raise ValueError(f"The loaded model's {attribute} {problem}.")


def check_fitted_state(state):
    """Check the structure of a fitted estimator's ``__dict__``.

    Does nothing for an unfitted estimator (no ``coefs_``). Raises
    ``ValueError`` naming the first attribute found inconsistent.
    """
    if "coefs_" not in state:
        return
    coefs, intercepts = state["coefs_"], state.get("intercepts_")
    _check_layers(coefs, intercepts)
    n_outputs = coefs[-1].shape[1]
    if state.get("n_layers_") != len(coefs) + 1:
        _fail("n_layers_", f"is {state.get('n_layers_')!r}, expected {len(coefs) + 1}")
    if state.get("n_outputs_") != n_outputs:
        _fail("n_outputs_", f"is {state.get('n_outputs_')!r}, expected {n_outputs}")
    if state.get("activation") not in HIDDEN_ACTIVATIONS:
        _fail("activation", f"{state.get('activation')!r:.50} is not a known name")
    if state.get("out_activation_") not in OUTPUT_ACTIVATIONS:
        _fail(
            "out_activation_",
            f"{state.get('out_activation_')!r:.50} is not a known name",
        )
    _check_classes(state, n_outputs)
    if "noise_variance_" in state:
        _check_noise_variance(state["noise_variance_"], n_outputs)
    _check_generator_state(state.get("_rng_state"))


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


def _check_classes(state, n_outputs):
    if "classes_" not in state:
        return
    n_classes = len(state["classes_"])
    binarizer = state.get("_label_binarizer")
    multilabel = getattr(binarizer, "y_type_", "").startswith("multilabel")
    expected = n_outputs == n_classes or (
        not multilabel and n_outputs == 1 and n_classes <= 2
    )
    if not expected:
        _fail("classes_", f"has {n_classes} classes for {n_outputs} outputs")


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
    except (TypeError, ValueError, KeyError) as exc:
        _fail("_rng_state", f"is not a PCG64 generator state ({exc})")
