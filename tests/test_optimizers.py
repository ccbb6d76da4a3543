"""The optimisers' base class, registry, L2 penalty and saved state.

Their update rules are checked against scikit-learn's optimisers in
``test_fast_path.py``; here: what the base class owns.
"""

import numpy as np
import pytest

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor, _optimizers
from skdrop._optimizers import (
    OPTIMIZERS,
    SGD,
    SOLVERS,
    UPDATE_BLOCK,
    Adam,
    L2Penalty,
    Optimizer,
)


def _vectors(n, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)


# -- registry ------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_solver_constraint_is_the_registry(Estimator):
    (options,) = Estimator._parameter_constraints["solver"]
    assert options.options == set(SOLVERS) == {"lbfgs", *OPTIMIZERS}
    assert {"sgd": SGD, "adam": Adam} == OPTIMIZERS


def test_a_subclass_registers_itself_and_only_updates_blocks(monkeypatch):
    monkeypatch.setattr(_optimizers, "OPTIMIZERS", {})

    class SignDescent(Optimizer):
        """Moves every parameter by ``-lr * sign(gradient)``."""

        name = "sign"

        def _update_block(self, start, stop, p, g, scratch):
            np.sign(g, out=g)
            p -= float(self.learning_rate) * g

    assert {"sign": SignDescent} == _optimizers.OPTIMIZERS
    n = 2 * UPDATE_BLOCK + 7  # three blocks, the last one short
    params, grad = _vectors(n)
    expected = params - 0.5 * np.sign(grad)
    SignDescent(n, np.float64, learning_rate_init=0.5).step(params, grad)
    np.testing.assert_array_equal(params, expected)


@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_from_parameters_reads_the_estimator_parameters(solver):
    params = DropoutMLPClassifier(
        learning_rate_init=0.02, momentum=0.5, beta_1=0.7
    ).get_params()
    optimizer = OPTIMIZERS[solver].from_parameters(10, np.float32, params)
    assert optimizer.learning_rate_init == 0.02
    assert getattr(optimizer, "momentum", 0.5) == 0.5
    assert getattr(optimizer, "beta_1", 0.7) == 0.7
    for name in optimizer.state_arrays:
        assert getattr(optimizer, name).dtype == np.float32


# -- the L2 penalty ---------------------------------------------------------------


def test_penalty_gradient_and_value_cover_the_weights_only():
    params, grad = _vectors(50)
    penalty = L2Penalty(alpha=3.0, n_weights=30)
    strength = penalty.strength(weight_sum=12.0)
    assert strength == 0.25
    expected = grad.copy()
    expected[:30] += strength * params[:30]
    value = penalty.add_gradient(params, grad, strength, np.empty(50))
    np.testing.assert_allclose(grad, expected, rtol=1e-15)
    assert value == pytest.approx(0.5 * strength * np.dot(params[:30], params[:30]))


def test_penalty_over_blocks_adds_up_to_the_whole_vector():
    params, grad = _vectors(100)
    penalty = L2Penalty(alpha=1.0, n_weights=55)
    whole_grad = grad.copy()
    whole = penalty.add_gradient(params, whole_grad, 0.1, np.empty(100))
    blocks = 0.0
    for start in range(0, 100, 16):
        p, g = params[start : start + 16], grad[start : start + 16]
        blocks += penalty.add_gradient(p, g, 0.1, np.empty(16), offset=start)
    assert blocks == pytest.approx(whole, rel=1e-12)
    np.testing.assert_allclose(grad, whole_grad, rtol=1e-15)


@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_step_returns_the_penalty_before_the_step(solver):
    n = UPDATE_BLOCK + 100
    params, grad = _vectors(n)
    penalty = L2Penalty(alpha=1.0, n_weights=n - 50)
    weights = params[: n - 50].copy()
    value = OPTIMIZERS[solver](n, np.float64).step(params, grad, penalty, 0.01)
    assert value == pytest.approx(0.005 * np.dot(weights, weights), rel=1e-12)
    assert not np.array_equal(params[: n - 50], weights)


# -- stopping --------------------------------------------------------------------


def test_adaptive_sgd_slows_down_before_it_stops(capsys):
    sgd = SGD(3, np.float64, learning_rate_init=1e-5, lr_schedule="adaptive")
    assert sgd.trigger_stopping("Stalled.", verbose=True) is False
    assert sgd.learning_rate == pytest.approx(2e-6)
    assert "Setting learning rate to" in capsys.readouterr().out
    assert sgd.trigger_stopping("Stalled.", verbose=True) is False
    assert sgd.trigger_stopping("Stalled.", verbose=True) is True
    assert "Learning rate too small. Stopping." in capsys.readouterr().out


@pytest.mark.parametrize(
    "optimizer", [SGD(3, np.float64, lr_schedule="constant"), Adam(3, np.float64)]
)
def test_other_schedules_stop_at_once(optimizer, capsys):
    assert optimizer.trigger_stopping("Stalled.", verbose=False) is True
    assert capsys.readouterr().out == ""


# -- state as a plain dict ---------------------------------------------------------


@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_state_round_trip_takes_the_same_steps(solver):
    n = 40
    optimizer = OPTIMIZERS[solver](n, np.float64)
    params, grad = _vectors(n)
    optimizer.step(params, grad.copy())
    state = optimizer.to_state()
    assert state["kind"] == solver
    assert all(not name.startswith("_") for name in state["attributes"])
    twin = Optimizer.from_state(state, n, np.float64)
    a, b = params.copy(), params.copy()
    optimizer.step(a, grad.copy())
    twin.step(b, grad.copy())
    np.testing.assert_array_equal(a, b)


def _adam_state(**changes):
    state = Adam(5, np.float64).to_state()
    state["attributes"].update(changes)
    return state


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"kind": "adam"}, "keys 'kind' and 'attributes'"),
        ({"kind": "rmsprop", "attributes": {}}, "Unknown optimizer kind 'rmsprop'"),
        (_adam_state(extra=1), "attributes"),
        (_adam_state(first_moment=[0.0] * 5), "'first_moment' must be a floating"),
        (_adam_state(second_moment=np.zeros(4)), r"'second_moment' has shape \(4,\)"),
        (_adam_state(first_moment=np.zeros((5, 1))), r"shape \(5, 1\)"),
        (_adam_state(first_moment=np.zeros(5, np.float32)), "dtype float32"),
        (_adam_state(t=np.zeros(2)), "'t' must be a number"),
    ],
)
def test_invalid_states_are_refused_with_what_is_wrong(state, message):
    with pytest.raises(ValueError, match=message):
        Optimizer.from_state(state, n_params=5, dtype=np.float64)


def test_missing_attribute_is_named():
    state = _adam_state()
    del state["attributes"]["first_moment_scale"]
    with pytest.raises(ValueError, match="first_moment_scale"):
        Optimizer.from_state(state, 5, np.float64)
