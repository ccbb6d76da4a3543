"""A failed or interrupted call leaves the estimator as it was, or usable.

* divergence (a learning rate that makes the loss overflow) is reported as a
  ``ValueError`` naming the learning rate, and the estimator keeps its
  previous state: unfitted after a fresh fit, previous weights after
  ``warm_start`` or ``partial_fit``; any other exception in training rolls
  back in the same way;
* ``KeyboardInterrupt`` during training keeps the weights reached so far
  (``'sgd'``, ``'adam'``) or restores the previous state (``'lbfgs'``).
"""

import pickle
import warnings

import numpy as np
import pytest
from support import assert_same_weights, small_problem, weights_of

import skdrop._core.network as network_module
from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._core.optimizers import OPTIMIZERS

SANE_RATE = 1e-6
DIVERGED = r"Training diverged: .*learning_rate_init=1e\+?0?300"


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
    X, y_class, y_reg = small_problem()
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
    X, y_class, y_reg = small_problem()
    y = y_class if cls is DropoutMLPClassifier else y_reg
    estimator = cls(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, y)
    weights, predictions = weights_of(estimator), estimator.predict(X)
    state = dict(vars(estimator))
    estimator.set_params(solver="sgd", learning_rate_init=1e300)
    with pytest.raises(ValueError, match=DIVERGED):
        estimator.fit(X, y)
    assert_same_weights(weights_of(estimator), weights)
    np.testing.assert_array_equal(estimator.predict(X), predictions)
    assert set(vars(estimator)) == set(state)
    assert estimator.n_iter_ == state["n_iter_"]
    assert estimator.loss_curve_ == state["loss_curve_"]


def _fitted_sgd(cls, warm_start):
    X, y_class, y_reg = small_problem()
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
        "weights": weights_of(estimator),
        "predictions": estimator.predict(X),
        "n_iter_": estimator.n_iter_,
        "t_": estimator.t_,
        "loss_curve_": list(estimator.loss_curve_),
        "optimizer": pickle.dumps(estimator._optimizer),
    }


def _assert_unchanged(estimator, X, snapshot):
    assert_same_weights(weights_of(estimator), snapshot["weights"])
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
    assert all(np.isfinite(w).all() for w in weights_of(estimator))


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
    X, _, y_reg = small_problem()
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
    X, y, _ = small_problem()
    clf = DropoutMLPClassifier(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    clf.fit(X, y)
    weights = weights_of(clf)
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
    assert_same_weights(weights_of(clf), weights)


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
    X, y_class, y_reg = small_problem()
    y = y_class if cls is DropoutMLPClassifier else y_reg
    params = dict(hidden_layer_sizes=(3,), batch_size=10, max_iter=50, random_state=0)
    reference = cls(**params, shuffle=False, dropout_rate=0.0)
    _interrupt_after(monkeypatch, k)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        reference.fit(X, y)
    assert reference.n_iter_ == k // 4
    assert len(reference.loss_curve_) == k // 4
    assert reference.t_ == 40 * (k // 4)
    assert all(np.isfinite(w).all() for w in weights_of(reference))
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
                assert_same_weights(weights_of(uninterrupted), weights_of(reference))
    # The interrupted estimator is usable: it can be trained further.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference.set_params(warm_start=True, max_iter=2).fit(X, y)
    # n_iter_ counts the epochs of the last call, t_ every sample seen.
    assert reference.n_iter_ == 2
    assert reference.t_ == 40 * (k // 4 + 2)


def test_keyboard_interrupt_with_early_stopping_keeps_best_weights(monkeypatch):
    X, y, _ = small_problem(n=100)
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
    X, y, _ = small_problem()
    clf = DropoutMLPClassifier(hidden_layer_sizes=(3,), batch_size=10, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1])
    _interrupt_after(monkeypatch, 2)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 0  # the interrupted epoch is not counted
    assert clf.t_ == 40
    assert clf.predict(X).shape == (40,)


def test_keyboard_interrupt_in_lbfgs_restores_previous_state(monkeypatch):
    X, _, y_reg = small_problem()
    reg = DropoutMLPRegressor(
        hidden_layer_sizes=(3,), solver="lbfgs", dropout_rate=0.0, max_iter=5
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y_reg)
    weights = weights_of(reg)
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        reg.fit(X, y_reg)
    assert_same_weights(weights_of(reg), weights)
