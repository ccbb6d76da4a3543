"""Fault scenarios a model left running in a hyper-parameter search must survive.

* divergence (a learning rate that makes the loss overflow) is reported as a
  ``ValueError`` naming the learning rate, and the estimator keeps its
  previous state: unfitted after a fresh fit, previous weights after
  ``warm_start`` or ``partial_fit``;
* a finite model never predicts NaN: probabilities and log-probabilities
  stay finite for logits of +-1e4;
* ``KeyboardInterrupt`` during training keeps the weights reached so far;
* prediction memory is bounded, ``max_iter`` bounds training, and no thread
  is left behind.
"""

import copy
import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import skdrop._network as network_module
from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._optimizers import OPTIMIZERS, SOLVERS

SANE_RATE = 1e-6
DIVERGED = r"Training diverged: .*learning_rate_init=1e\+?0?300"


def _data(n=40, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y_class = (X[:, 0] + X[:, 1] > 0).astype(int)
    y_reg = X @ np.arange(1.0, n_features + 1) * 1e3
    return X, y_class, y_reg


def _weights(estimator):
    return [w.copy() for w in estimator.coefs_ + estimator.intercepts_]


def _assert_same_weights(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)


def _exploding(cls, **params):
    """An estimator whose huge learning rate overflows the loss."""
    return cls(
        hidden_layer_sizes=(3,),
        solver="sgd",
        learning_rate_init=1e300,
        max_iter=5,
        random_state=0,
        **params,
    )


# -- divergence ----------------------------------------------------------------
@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_divergent_fresh_fit_leaves_estimator_unfitted(cls, solver):
    X, y_class, y_reg = _data()
    y = y_class if cls is DropoutMLPClassifier else y_reg
    estimator = _exploding(cls)
    estimator.set_params(solver=solver)
    with pytest.raises(ValueError, match=DIVERGED):
        estimator.fit(X, y)
    for attribute in ("coefs_", "n_iter_", "loss_curve_", "classes_", "t_"):
        assert not hasattr(estimator, attribute)
    # The same object can be refitted with a sane learning rate.
    estimator.set_params(learning_rate_init=1e-3)
    estimator.fit(X, y)
    assert np.isfinite(estimator.predict(X)).all() or cls is DropoutMLPClassifier


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_divergent_refit_keeps_previous_model(cls):
    X, y_class, y_reg = _data()
    y = y_class if cls is DropoutMLPClassifier else y_reg
    estimator = cls(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, y)
    weights, predictions = _weights(estimator), estimator.predict(X)
    state = dict(vars(estimator))
    estimator.set_params(solver="sgd", learning_rate_init=1e300)
    with pytest.raises(ValueError, match=DIVERGED):
        estimator.fit(X, y)
    _assert_same_weights(_weights(estimator), weights)
    np.testing.assert_array_equal(estimator.predict(X), predictions)
    assert set(vars(estimator)) == set(state)
    assert estimator.n_iter_ == state["n_iter_"]
    assert estimator.loss_curve_ == state["loss_curve_"]


def _fitted_sgd(cls, warm_start):
    X, y_class, y_reg = _data()
    y = y_class if cls is DropoutMLPClassifier else y_reg
    estimator = cls(
        hidden_layer_sizes=(3,),
        solver="sgd",
        # Small enough for targets of scale 1e3: the fit must be sane before
        # a test makes it diverge.
        learning_rate_init=SANE_RATE,
        max_iter=5,
        random_state=0,
        warm_start=warm_start,
    )
    estimator.fit(X, y)
    estimator.partial_fit(X, y)  # an optimizer state with momentum exists
    return estimator, X, y


def _snapshot(estimator, X):
    return {
        "weights": _weights(estimator),
        "predictions": estimator.predict(X),
        "n_iter_": estimator.n_iter_,
        "t_": estimator.t_,
        "loss_curve_": list(estimator.loss_curve_),
        "optimizer": pickle.dumps(estimator._optimizer),
    }


def _assert_unchanged(estimator, X, snapshot):
    _assert_same_weights(_weights(estimator), snapshot["weights"])
    np.testing.assert_array_equal(estimator.predict(X), snapshot["predictions"])
    assert estimator.n_iter_ == snapshot["n_iter_"]
    assert estimator.t_ == snapshot["t_"]
    assert estimator.loss_curve_ == snapshot["loss_curve_"]
    assert pickle.dumps(estimator._optimizer) == snapshot["optimizer"]


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_divergent_warm_start_keeps_previous_weights(cls):
    estimator, X, y = _fitted_sgd(cls, warm_start=True)
    before = _snapshot(estimator, X)
    estimator.set_params(learning_rate_init=1e300)
    with pytest.raises(ValueError, match=DIVERGED):
        estimator.fit(X, y)
    _assert_unchanged(estimator, X, before)
    # Training resumes from the same weights once the rate is sane.
    estimator.set_params(learning_rate_init=SANE_RATE, max_iter=2)
    estimator.fit(X, y)
    assert estimator.n_iter_ == 2
    assert estimator.t_ == before["t_"] + 2 * 40
    assert all(np.isfinite(w).all() for w in _weights(estimator))


def test_divergent_partial_fit_keeps_previous_weights():
    """Rows of 1e200 overflow the squared error in the first batch."""
    estimator, X, y = _fitted_sgd(DropoutMLPRegressor, warm_start=False)
    before = _snapshot(estimator, X)
    with pytest.raises(ValueError, match=r"Training diverged: the loss became inf"):
        estimator.partial_fit(X * 1e200, y)
    _assert_unchanged(estimator, X, before)
    estimator.partial_fit(X, y)
    assert estimator.t_ == before["t_"] + 40


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("mode", ["partial_fit", "warm_start"])
def test_non_finite_loss_rolls_back_every_attribute(monkeypatch, cls, bad, mode):
    """A NaN or infinite loss in the 3rd batch (injected) undoes the whole call."""
    estimator, X, y = _fitted_sgd(cls, warm_start=mode == "warm_start")
    estimator.set_params(batch_size=10)
    before = _snapshot(estimator, X)
    attributes = dict(vars(estimator))
    calls = {"n": 0}
    original = network_module.Network.train_step_gradient

    def step(self, *args, **kwargs):
        calls["n"] += 1
        loss, weight_sum = original(self, *args, **kwargs)
        return (bad if calls["n"] == 3 else loss), weight_sum

    monkeypatch.setattr(network_module.Network, "train_step_gradient", step)
    method = estimator.partial_fit if mode == "partial_fit" else estimator.fit
    with pytest.raises(ValueError, match=rf"the loss became {bad} in epoch 1"):
        method(X, y)
    assert calls["n"] == 3
    _assert_unchanged(estimator, X, before)
    assert set(vars(estimator)) == set(attributes)


def test_divergent_lbfgs_is_reported():
    X, _, y_reg = _data()
    estimator = DropoutMLPRegressor(
        hidden_layer_sizes=(3,), solver="lbfgs", dropout_rate=0.0, max_iter=50
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            estimator.fit(X * 1e200, y_reg * 1e200)
        except ValueError as exc:
            assert "diverged" in str(exc) or "infinity" in str(exc)
            assert not hasattr(estimator, "coefs_")
        else:
            assert np.isfinite(estimator.predict(X)).all()


def test_failure_inside_training_restores_state(monkeypatch):
    """Any exception from the training loop (here an injected one) rolls back."""
    X, y, _ = _data()
    clf = DropoutMLPClassifier(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    clf.fit(X, y)
    weights = _weights(clf)
    calls = {"n": 0}
    original = network_module.Network.train_step_gradient

    def failing_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise MemoryError("injected")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(network_module.Network, "train_step_gradient", failing_step)
    clf.set_params(warm_start=True)
    with pytest.raises(MemoryError, match="injected"):
        clf.fit(X, y)
    _assert_same_weights(_weights(clf), weights)


# -- stable outputs --------------------------------------------------------
def _hand_set(estimator, logit):
    """Weights that give logits of +-``logit`` for the rows of ``_extreme_X``."""
    for W in estimator.coefs_:
        W[...] = 0.0
    for b in estimator.intercepts_:
        b[...] = 0.0
    estimator.coefs_[0][0, 0] = 1.0  # hidden unit 0 copies feature 0 (relu)
    estimator.coefs_[0][1, 1] = 1.0  # hidden unit 1 copies feature 1
    estimator.coefs_[1][0, :] = logit
    estimator.coefs_[1][1, :] = -logit
    if estimator.coefs_[1].shape[1] > 1:
        estimator.coefs_[1][:, 0] *= -1


def _extreme_X():
    return np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("logit", [1e4, 1e6])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_extreme_logits_give_finite_probabilities(n_classes, logit, dtype):
    X = _extreme_X().astype(dtype)
    y = np.arange(4) % n_classes
    clf = DropoutMLPClassifier(
        hidden_layer_sizes=(2,), max_iter=1, dropout_rate=0.0, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    _hand_set(clf, logit)
    proba = clf.predict_proba(X)
    log_proba = clf.predict_log_proba(X)
    assert proba.shape == log_proba.shape == (4, n_classes)
    assert np.isfinite(proba).all() and np.isfinite(log_proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # Saturated rows are certain; log-probabilities keep the logit's scale.
    assert proba.max() == 1.0
    assert log_proba.min() <= -logit / 2
    np.testing.assert_allclose(np.exp(log_proba), proba, atol=1e-6)
    samples = clf.predict_samples(X, n_samples=4, random_state=0)
    assert np.isfinite(samples).all()
    assert clf.predict(X).shape == (4,)


def test_multilabel_extreme_logits_are_finite():
    X = _extreme_X()
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    clf = DropoutMLPClassifier(hidden_layer_sizes=(2,), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    _hand_set(clf, 1e4)
    assert np.isfinite(clf.predict_proba(X)).all()
    assert np.isfinite(clf.predict_log_proba(X)).all()


def test_overflowing_output_is_an_error_not_nan():
    """A finite model whose activations overflow refuses to answer."""
    X, _, y_reg = _data()
    reg = DropoutMLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y_reg)
    reg.coefs_[0][...] = 1e300
    reg.coefs_[1][...] = 1e300
    overflow = "output contains infinity or NaN"
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(ValueError, match=overflow):
            reg.predict(np.ones((2, 3)))
        with pytest.raises(ValueError, match=overflow):
            reg.predict_samples(np.ones((2, 3)), n_samples=2)


# -- interruption ------------------------------------------------------------
def _interrupt_after(monkeypatch, n_batches):
    calls = {"n": 0}
    original = network_module.Network.train_step_gradient

    def step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n_batches:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(network_module.Network, "train_step_gradient", step)
    return calls


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
@pytest.mark.parametrize("k", [0, 1, 7, 12])
def test_keyboard_interrupt_keeps_weights_reached(monkeypatch, cls, k):
    """40 rows in batches of 10: 4 batches per epoch, so k // 4 full epochs."""
    X, y_class, y_reg = _data()
    y = y_class if cls is DropoutMLPClassifier else y_reg
    params = dict(hidden_layer_sizes=(3,), batch_size=10, max_iter=50, random_state=0)
    reference = cls(**params, shuffle=False, dropout_rate=0.0)
    _interrupt_after(monkeypatch, k)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        reference.fit(X, y)
    assert reference.n_iter_ == k // 4
    assert len(reference.loss_curve_) == k // 4
    assert reference.t_ == 40 * (k // 4)
    assert all(np.isfinite(w).all() for w in _weights(reference))
    predictions = reference.predict(X)
    assert predictions.shape[0] == 40
    monkeypatch.undo()
    # The weights are those of k uninterrupted steps: the same k batches
    # without the interruption, through warm-started one-epoch runs.
    if k % 4 == 0:
        uninterrupted = cls(**{**params, "max_iter": max(k // 4, 1)})
        uninterrupted.set_params(shuffle=False, dropout_rate=0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if k:
                uninterrupted.fit(X, y)
                _assert_same_weights(_weights(uninterrupted), _weights(reference))
    # The interrupted estimator is usable: it can be trained further.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference.set_params(warm_start=True, max_iter=2).fit(X, y)
    # n_iter_ counts the epochs of the last call, t_ every sample seen.
    assert reference.n_iter_ == 2
    assert reference.t_ == 40 * (k // 4 + 2)


def test_keyboard_interrupt_with_early_stopping_keeps_best_weights(monkeypatch):
    X, y, _ = _data(n=100)
    clf = DropoutMLPClassifier(
        hidden_layer_sizes=(3,), early_stopping=True, batch_size=30, random_state=0
    )
    _interrupt_after(monkeypatch, 10)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        clf.fit(X, y)
    assert clf.n_iter_ == len(clf.validation_scores_) == 3
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.predict(X).shape == (100,)


def test_keyboard_interrupt_in_partial_fit(monkeypatch):
    X, y, _ = _data()
    clf = DropoutMLPClassifier(hidden_layer_sizes=(3,), batch_size=10, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1])
    _interrupt_after(monkeypatch, 2)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 0  # the interrupted epoch is not counted
    assert clf.t_ == 40
    assert clf.predict(X).shape == (40,)


# -- bounded resources -------------------------------------------------------
N_BIG = 2_000_000
# Scratch space beyond the returned array: the prediction chunk's buffers
# (activations, gradients, dropout masks), fixed whatever the number of rows.
EXTRA_BYTES = 64 * 2**20
# Growth of that scratch space from N_BIG / 4 to N_BIG rows: none is allowed
# beyond allocator noise, so no temporary proportional to the rows exists.
GROWTH_BYTES = 2 * 2**20


@pytest.fixture(scope="module")
def big_X():
    return np.random.default_rng(0).normal(size=(N_BIG, 2))


def _peak_extra(func):
    """The result of ``func()`` and its peak memory beyond the result."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = func()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak - result.nbytes


def _assert_bounded(predict, big_X):
    out_small, extra_small = _peak_extra(lambda: predict(big_X[: N_BIG // 4]))
    out_big, extra_big = _peak_extra(lambda: predict(big_X))
    assert out_big.nbytes == 4 * out_small.nbytes
    assert extra_big < EXTRA_BYTES, f"{extra_big / 2**20:.1f} MiB beyond the output"
    assert extra_big - extra_small < GROWTH_BYTES, (
        f"scratch memory grew by {(extra_big - extra_small) / 2**20:.1f} MiB "
        "with the number of rows"
    )
    return out_big


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_proba_memory_is_bounded(big_X, n_classes):
    X, y = big_X[:60], np.arange(60) % n_classes
    clf = DropoutMLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    proba = _assert_bounded(clf.predict_proba, big_X)
    assert proba.shape == (N_BIG, n_classes)


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_predict_samples_memory_is_bounded(big_X, cls):
    X = big_X[:60]
    y = np.arange(60) % 2 if cls is DropoutMLPClassifier else X[:, 0]
    est = cls(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    samples = _assert_bounded(
        lambda X: est.predict_samples(X, n_samples=2, random_state=0), big_X
    )
    assert samples.shape[:2] == (2, N_BIG)


@pytest.mark.parametrize("solver", SOLVERS)
def test_max_iter_bounds_training(solver):
    """tol=0 and n_iter_no_change=inf: only max_iter can stop training."""
    X, _, y_reg = _data()
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(3,),
        solver=solver,
        dropout_rate=0.0 if solver == "lbfgs" else 0.5,
        max_iter=7,
        tol=0.0,
        n_iter_no_change=np.inf,
        learning_rate="adaptive",
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y_reg)
    assert reg.n_iter_ <= 7
    if solver != "lbfgs":
        assert reg.n_iter_ == 7


def test_keyboard_interrupt_in_lbfgs_restores_previous_state(monkeypatch):
    X, _, y_reg = _data()
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(3,), solver="lbfgs", dropout_rate=0.0, max_iter=5
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y_reg)
    weights = _weights(reg)
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        reg.fit(X, y_reg)
    _assert_same_weights(_weights(reg), weights)


# ---------------------------------------------------------------------------
# Generated cases. Hypothesis runs derandomized with small budgets; the
# number of cases is printed at the end of the module.
GENERATED_CASES = {"count": 0}



def _quietly(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


# -- state changes between calls ----------------------------------------------
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
                _quietly(getattr(estimator, method), X_STATE, y, **kwargs)
            assert _state_of(estimator).keys() == before.keys()
            continue
        _quietly(getattr(estimator, method), X_STATE, y, **kwargs)
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
                _quietly(getattr(estimator, method), X_STATE, y)
            continue
        _quietly(getattr(estimator, method), X_STATE, y)
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


# -- extreme sample weights, rates and scales ----------------------------------
X_W = np.random.default_rng(2).normal(size=(25, 3))
Y_W = X_W[:, 0] - X_W[:, 1]
W_BASE = np.random.default_rng(3).uniform(2.0**-10, 1.0, size=25)


def _fit_weights(sample_weight, solver, alpha, dtype=np.float64):
    return _quietly(
        DropoutMLPRegressor(
            hidden_layer_sizes=(3,),
            solver=solver,
            alpha=alpha,
            dropout_rate=0.0 if solver == "lbfgs" else 0.3,
            max_iter=3,
            random_state=0,
        ).fit,
        X_W.astype(dtype),
        Y_W,
        sample_weight=sample_weight,
    )


@settings(max_examples=40)
@given(
    exponent=st.integers(-1000, 1000),
    solver=st.sampled_from(SOLVERS),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_scaled_sample_weights_give_the_same_model(exponent, solver, dtype):
    """Losses are weighted means: a common factor 2**k changes nothing (alpha=0)."""
    GENERATED_CASES["count"] += 1
    reference = _fit_weights(W_BASE, solver, 0.0, dtype)
    scaled = _fit_weights(W_BASE * 2.0**exponent, solver, 0.0, dtype)
    _assert_same_weights(_weights(scaled), _weights(reference))


@settings(max_examples=25)
@given(exponent=st.integers(-20, 1000), solver=st.sampled_from(SOLVERS))
def test_weight_scale_and_alpha_trade_off(exponent, solver):
    """The penalty is alpha / sum(w): weights w * 2**k with alpha make the same
    model as weights w with alpha / 2**k."""
    GENERATED_CASES["count"] += 1
    scaled = _fit_weights(W_BASE * 2.0**exponent, solver, 1e-4)
    reference = _fit_weights(W_BASE, solver, 1e-4 * 2.0**-exponent)
    _assert_same_weights(_weights(scaled), _weights(reference))


@pytest.mark.parametrize("cls", [DropoutMLPClassifier, DropoutMLPRegressor])
@pytest.mark.parametrize("solver", SOLVERS)
def test_tiny_sample_weights_train(cls, solver):
    X, y_class, y_reg = _data()
    y = y_class if cls is DropoutMLPClassifier else y_reg / 1e3
    params = {"hidden_layer_sizes": (3,), "solver": solver, "alpha": 0.0}
    params |= {"dropout_rate": 0.0, "max_iter": 3, "random_state": 0}
    tiny = _quietly(cls(**params).fit, X, y, sample_weight=np.full(len(X), 1e-320))
    plain = _quietly(cls(**params).fit, X, y)
    for a, b in zip(_weights(tiny), _weights(plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_penalty_that_overflows_names_alpha():
    with pytest.raises(ValueError, match="alpha / sum"):
        _fit_weights(np.full(25, 1e-320), "adam", 1e-4)


@settings(max_examples=20)
@given(power_t=st.one_of(st.floats(0, 1e308), st.sampled_from([1e6, 1e308])))
def test_invscaling_with_any_power_t_trains(power_t):
    GENERATED_CASES["count"] += 1
    X, y, _ = _data()
    clf = _quietly(
        DropoutMLPClassifier(
            hidden_layer_sizes=(3,),
            solver="sgd",
            learning_rate="invscaling",
            power_t=power_t,
            max_iter=2,
            random_state=0,
        ).fit,
        X,
        y,
    )
    assert 0 <= clf._optimizer.learning_rate <= clf.learning_rate_init
    assert all(np.isfinite(w).all() for w in _weights(clf))


@settings(max_examples=25)
@given(
    epsilon=st.one_of(
        st.floats(5e-324, 1e-30), st.sampled_from([5e-324, 1e-50, 1e-45, 1e-38])
    ),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_adam_with_tiny_epsilon_never_divides_by_zero(epsilon, dtype):
    """A feature that is 0 everywhere has a zero gradient: 0 / (0 + epsilon)."""
    GENERATED_CASES["count"] += 1
    X = X_W.copy()
    X[:, 1] = 0.0
    reg = _quietly(
        DropoutMLPRegressor(
            hidden_layer_sizes=(3,),
            epsilon=epsilon,
            alpha=0.0,
            dropout_rate=0.0,
            max_iter=2,
            random_state=0,
        ).fit,
        X.astype(dtype),
        Y_W,
    )
    assert all(np.isfinite(w).all() for w in _weights(reg))


@settings(max_examples=20)
@given(exponent=st.integers(12, 37), solver=st.sampled_from(sorted(OPTIMIZERS)))
def test_float32_data_too_large_is_named(exponent, solver):
    """Never weights frozen by an overflowed optimiser state without an error."""
    GENERATED_CASES["count"] += 1
    X = (X_W * 10.0**exponent).astype(np.float32)
    reg = DropoutMLPRegressor(hidden_layer_sizes=(3,), solver=solver, max_iter=2)
    try:
        _quietly(reg.fit, X, Y_W)
    except ValueError as exc:
        assert "values as large as" in str(exc) and "scale X" in str(exc)
        assert not hasattr(reg, "coefs_")
        return
    assert reg._optimizer.non_finite_state() is None


def test_warm_start_after_a_loss_change_names_the_loss():
    X, _, y = _data()
    reg = _quietly(
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
    _quietly(reg.set_params(warm_start=False).fit, X, np.abs(y))
    assert reg.out_activation_ == "exp"


def test_sparse_targets_for_the_regressor_are_refused():
    X, _, y = _data()
    with pytest.raises(TypeError, match="Sparse data was passed for y"):
        DropoutMLPRegressor(max_iter=1).fit(X, sp.csr_matrix(y.reshape(-1, 1)))


def test_noise_variance_with_tiny_sample_weights():
    X, _, y = _data()
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(3,), alpha=0.0, max_iter=3, random_state=0
    )
    weighted = _quietly(reg.fit, X, y / 1e3, sample_weight=np.full(len(X), 1e-320))
    variance = weighted.noise_variance_.copy()
    plain = _quietly(reg.fit, X, y / 1e3)
    np.testing.assert_allclose(variance, plain.noise_variance_, rtol=1e-6)
    assert (variance > 0).all()
