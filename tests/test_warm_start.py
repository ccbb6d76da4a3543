"""Sequences of ``fit`` and ``partial_fit`` calls with ``set_params`` between
them: each call succeeds, or fails with an error that names the change
(classes, a multilabel target after a single-label one, the loss, the solver)
and leaves the estimator as it was.

Hypothesis generates the sequences; the number of generated cases is printed
at the end of the module.
"""

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import quietly, small_problem

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._core.optimizers import SOLVERS

GENERATED_CASES = {"count": 0}

X_STATE = np.random.default_rng(1).normal(size=(30, 3))
TARGETS = {
    "binary": (X_STATE[:, 0] > 0).astype(int),
    "multiclass": np.arange(30) % 3,
    "multilabel": (X_STATE > 0).astype(int),
}
TARGET_CLASSES = {"binary": {0, 1}, "multiclass": {0, 1, 2}, "multilabel": {0, 1, 2}}

CLASSIFIER_CALLS = st.tuples(
    st.sampled_from(["fit", "partial_fit"]),
    st.sampled_from(sorted(TARGETS)),
    st.fixed_dictionaries(
        {},
        optional={
            "early_stopping": st.booleans(),
            "solver": st.sampled_from(SOLVERS),
            "warm_start": st.booleans(),
            "dropout_rate": st.sampled_from([0.0, 0.3]),
        },
    ),
)


class ClassifierModel:
    """What the classifier must do on a sequence of calls: the rules, not the code.

    Returns the regex an error must match, or ``None`` for success.
    """

    def __init__(self):
        self.fitted = None  # (target kind, classes) once fitted

    def expect(self, estimator, method, kind):
        params = estimator.get_params()
        if method == "partial_fit" and params["solver"] == "lbfgs":
            return "has no attribute 'partial_fit'"
        if (
            method == "partial_fit"
            and self.fitted is not None
            and kind != "multilabel"
            and self.fitted[1] != {0, 1, 2}
        ):
            return "classes"  # classes=[0, 1, 2] declared against classes_
        if params["solver"] == "lbfgs" and params["dropout_rate"]:
            return "solver='lbfgs' cannot be used with dropout"
        if method == "partial_fit" and params["early_stopping"]:
            return "early_stopping"
        continuing = self.fitted is not None and (
            method == "partial_fit" or params["warm_start"]
        )
        if not continuing:
            return None
        fitted_kind, classes = self.fitted
        if (fitted_kind == "multilabel") != (kind == "multilabel"):
            return "multilabel"
        if method == "fit" and TARGET_CLASSES[kind] != classes:
            return "same classes"
        return None

    def record(self, estimator, method, kind):
        continuing = self.fitted is not None and (
            method == "partial_fit" or estimator.warm_start
        )
        if not continuing:
            classes = {0, 1, 2} if method == "partial_fit" else TARGET_CLASSES[kind]
            self.fitted = (kind, classes)


def _state_of(estimator):
    return {
        key: copy.deepcopy(value)
        for key, value in vars(estimator).items()
        if key.endswith("_") and not key.startswith("_")
    }


@settings(max_examples=30)
@given(calls=st.lists(CLASSIFIER_CALLS, min_size=2, max_size=4))
def test_classifier_call_sequences_succeed_or_name_the_change(calls):
    """Any sequence of fit/partial_fit calls with set_params between them."""
    GENERATED_CASES["count"] += 1
    estimator = DropoutMLPClassifier(
        hidden_layer_sizes=(3,), max_iter=2, random_state=0
    )
    model = ClassifierModel()
    for method, kind, changes in calls:
        estimator.set_params(**changes)
        expected = model.expect(estimator, method, kind)
        y = TARGETS[kind]
        kwargs = {}
        if method == "partial_fit" and kind != "multilabel":
            kwargs["classes"] = [0, 1, 2]
        before = _state_of(estimator)
        if expected is not None:
            error = AttributeError if "no attribute" in expected else ValueError
            with pytest.raises(error, match=expected):
                quietly(getattr(estimator, method), X_STATE, y, **kwargs)
            assert _state_of(estimator).keys() == before.keys()
            continue
        quietly(getattr(estimator, method), X_STATE, y, **kwargs)
        model.record(estimator, method, kind)
        predicted = estimator.predict(X_STATE[:5])
        assert predicted.shape == ((5, 3) if kind == "multilabel" else (5,))
        if estimator.solver != "lbfgs":
            assert isinstance(estimator.loss_curve_, list)
            assert (estimator.validation_scores_ is not None) == (
                estimator.early_stopping and method == "fit"
            ) or method == "partial_fit"
            assert estimator._optimizer.name == estimator.solver


REGRESSOR_CALLS = st.tuples(
    st.sampled_from(["fit", "partial_fit"]),
    st.fixed_dictionaries(
        {},
        optional={
            "early_stopping": st.booleans(),
            "solver": st.sampled_from(SOLVERS),
            "loss": st.sampled_from(["squared_error", "poisson"]),
            "dropout_rate": st.sampled_from([0.0, 0.3]),
        },
    ),
)


@settings(max_examples=25)
@given(calls=st.lists(REGRESSOR_CALLS, min_size=2, max_size=4))
def test_regressor_warm_starts_succeed_or_name_the_change(calls):
    GENERATED_CASES["count"] += 1
    y = np.abs(X_STATE[:, 0])
    estimator = DropoutMLPRegressor(
        hidden_layer_sizes=(3,), max_iter=2, random_state=0, warm_start=True
    )
    fitted_loss = None
    for method, changes in calls:
        estimator.set_params(**changes)
        params = estimator.get_params()
        if method == "partial_fit" and params["solver"] == "lbfgs":
            expected = "has no attribute 'partial_fit'"
        elif params["solver"] == "lbfgs" and params["dropout_rate"]:
            expected = "lbfgs"
        elif method == "partial_fit" and params["early_stopping"]:
            expected = "early_stopping"
        elif fitted_loss not in (None, params["loss"]):
            expected = r"loss='\w+' needs"
        else:
            expected = None
        if expected is not None:
            error = AttributeError if "no attribute" in expected else ValueError
            with pytest.raises(error, match=expected):
                quietly(getattr(estimator, method), X_STATE, y)
            continue
        quietly(getattr(estimator, method), X_STATE, y)
        fitted_loss = params["loss"]
        mean, std = estimator.predict(X_STATE[:4], return_std=True)
        assert np.isfinite(mean).all() and (std >= 0).all()


def test_partial_fit_subset_of_declared_classes_with_warm_start():
    clf = DropoutMLPClassifier(hidden_layer_sizes=(3,), warm_start=True, random_state=0)
    clf.partial_fit(X_STATE, TARGETS["multiclass"], classes=[0, 1, 2])
    clf.partial_fit(X_STATE, TARGETS["binary"])
    assert clf.predict_proba(X_STATE).shape == (30, 3)


def test_partial_fit_multilabel_without_classes():
    clf = DropoutMLPClassifier(hidden_layer_sizes=(3,), random_state=0)
    clf.partial_fit(X_STATE, TARGETS["multilabel"])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    clf.partial_fit(X_STATE, TARGETS["multilabel"])
    assert clf.predict(X_STATE).shape == (30, 3)


def test_partial_fit_after_solver_change_starts_the_new_optimizer():
    clf = DropoutMLPClassifier(hidden_layer_sizes=(3,), solver="adam", random_state=0)
    clf.partial_fit(X_STATE, TARGETS["binary"], classes=[0, 1])
    clf.set_params(solver="sgd").partial_fit(X_STATE, TARGETS["binary"])
    assert clf._optimizer.name == "sgd"


def test_warm_start_after_a_loss_change_names_the_loss():
    X, _, y = small_problem()
    reg = quietly(
        DropoutMLPRegressor(hidden_layer_sizes=(3,), max_iter=2, warm_start=True).fit,
        X,
        np.abs(y),
    )
    reg.set_params(loss="poisson")
    with pytest.raises(
        ValueError, match=r"loss='poisson' needs 'exp'.*warm_start=False"
    ):
        reg.fit(X, np.abs(y))
    assert reg.out_activation_ == "identity"
    quietly(reg.set_params(warm_start=False).fit, X, np.abs(y))
    assert reg.out_activation_ == "exp"
