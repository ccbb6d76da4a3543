"""The optimisers: update rules against scikit-learn's, and what the base
class owns (registry, block loop, L2 penalty, stopping, saved state), and
extreme hyper-parameters (any ``power_t``, a tiny ``epsilon``, float32 data
too large for the optimiser's state) through the estimators."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.neural_network._stochastic_optimizers import (
    AdamOptimizer,
    SGDOptimizer,
)
from support import fresh_registry, quietly, small_problem, weights_of

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._core import optimizers as _optimizers
from skdrop._core.optimizers import (
    MOMENT_SCALE_FLOOR,
    OPTIMIZERS,
    SGD,
    SOLVERS,
    UPDATE_BLOCK,
    Adam,
    Optimizer,
)
from skdrop._core.penalty import L2Penalty

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: 2e-4, np.float64: 1e-10}


def _vectors(n, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)


# -- optimisers against scikit-learn's formulas ----------------------------------
# Weight matrices first, then bias vectors, as in the network's flat vector.
# The large layout spans several update blocks, the last one partial, with
# the end of the weights (where the L2 penalty stops) inside a block.
LAYOUTS = {
    "one block": [(6, 5), (5, 3), (5,), (3,)],
    "several blocks": [(300, 250), (250, 3), (250,), (3,)],
}


def _parameters_and_gradients(dtype, shapes, n_steps=4):
    """A flat parameter vector, its per-array split, and a few gradients."""
    rng = np.random.default_rng(5)
    sizes = [int(np.prod(s)) for s in shapes]
    flat = rng.standard_normal(sum(sizes)).astype(dtype)
    grads = [rng.standard_normal(flat.size).astype(dtype) for _ in range(n_steps)]
    return flat, grads, shapes, sizes


def _split(flat, shapes, sizes):
    pieces = np.split(flat.astype(np.float64), np.cumsum(sizes)[:-1])
    return [p.reshape(s) for p, s in zip(pieces, shapes, strict=True)]


def _sklearn_trajectory(make_optimizer, flat, grads, shapes, sizes, l2_strength):
    """Parameters after scikit-learn's optimizer took a step per gradient,
    each weight matrix's gradient plus ``l2_strength`` times the matrix."""
    params = _split(flat, shapes, sizes)
    optimizer = make_optimizer(params)
    for grad in grads:
        grad = _split(grad, shapes, sizes)
        for g, p in zip(grad, params, strict=True):
            if p.ndim == 2:
                g += l2_strength * p
        optimizer.update_params(params, grad)
    return np.concatenate([p.ravel() for p in params])


def _n_weights(shapes, sizes):
    return sum(n for s, n in zip(shapes, sizes, strict=True) if len(s) == 2)


def _take_steps(optimizer, params, grads, l2_strength, n_weights):
    """A step per gradient with an L2 penalty of strength ``l2_strength``; each
    returns the penalty's value before it, ``l2_strength / 2 * ||W||^2``."""
    penalty = L2Penalty(1.0, n_weights)
    for grad in grads:
        weights = params[:n_weights].astype(np.float64)
        value = optimizer.step(params, grad.copy(), penalty, l2_strength)
        assert value == pytest.approx(
            0.5 * l2_strength * np.dot(weights, weights), rel=1e-5
        )


def _assert_matches_sklearn(make_sklearn, make_ours, dtype, layout, l2_strength):
    """Steps of ``make_ours(n_params)`` on the flat vector end where those of
    scikit-learn's ``make_sklearn(arrays)`` end on the per-layer arrays."""
    flat, grads, shapes, sizes = _parameters_and_gradients(dtype, LAYOUTS[layout])
    expected = _sklearn_trajectory(
        make_sklearn, flat, grads, shapes, sizes, l2_strength
    )
    params = flat.copy()
    optimizer = make_ours(params.size)
    _take_steps(optimizer, params, grads, l2_strength, _n_weights(shapes, sizes))
    assert params.dtype == dtype
    np.testing.assert_allclose(params, expected, rtol=TOLERANCE[dtype], atol=1e-6)


@pytest.mark.parametrize("l2_strength", [0.0, 0.1])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_sklearn(momentum, nesterov, dtype, layout, l2_strength):
    _assert_matches_sklearn(
        lambda p: SGDOptimizer(p, 0.05, momentum=momentum, nesterov=nesterov),
        lambda n: SGD(n, dtype, 0.05, momentum=momentum, nesterov=nesterov),
        dtype,
        layout,
        l2_strength,
    )


@pytest.mark.parametrize("l2_strength", [0.0, 0.1])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_matches_sklearn(dtype, layout, l2_strength):
    _assert_matches_sklearn(
        lambda p: AdamOptimizer(p, 0.01, 0.8, 0.95, 1e-6),
        lambda n: Adam(n, dtype, 0.01, 0.8, 0.95, 1e-6),
        dtype,
        layout,
        l2_strength,
    )


def _textbook_adam(params, grads, lr, beta_1, beta_2, epsilon):
    m = np.zeros_like(params)
    v = np.zeros_like(params)
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        step = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        params = params - step * m / (np.sqrt(v) + epsilon)
    return params


@pytest.mark.parametrize(("beta_1", "beta_2"), [(0.0, 0.999), (0.5, 0.9), (0.9, 0.2)])
def test_adam_with_scaled_moments_follows_the_textbook_over_many_rescalings(
    beta_1, beta_2
):
    """The stored moments are rescaled every few steps (each step for a zero
    beta); the trajectory is still Adam's."""
    rng = np.random.default_rng(7)
    params = rng.standard_normal(50)
    grads = [rng.standard_normal(50) * 10.0 ** rng.uniform(-3, 1) for _ in range(300)]
    expected = _textbook_adam(params, grads, 0.01, beta_1, beta_2, 1e-8)
    optimizer = Adam(params.size, np.float64, 0.01, beta_1, beta_2, 1e-8)
    ours = params.copy()
    for grad in grads:
        optimizer.step(ours, grad.copy())
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-12)
    # The stored moments stay within the rescaling bound of the true ones.
    assert optimizer.first_moment_scale >= MOMENT_SCALE_FLOOR
    assert optimizer.second_moment_scale >= MOMENT_SCALE_FLOOR


def test_several_block_layout_spans_several_blocks():
    """The large layout does exercise block boundaries and a partial block."""
    n = sum(int(np.prod(s)) for s in LAYOUTS["several blocks"])
    assert n > 2 * UPDATE_BLOCK
    assert n % UPDATE_BLOCK


# -- registry ------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_solver_constraint_is_the_registry(Estimator):
    (options,) = Estimator._parameter_constraints["solver"]
    assert options.options == set(SOLVERS) == {"lbfgs", *OPTIMIZERS}
    assert {"sgd": SGD, "adam": Adam} == OPTIMIZERS


def test_a_subclass_registers_itself_and_only_updates_blocks(monkeypatch):
    fresh_registry(monkeypatch, _optimizers, "OPTIMIZERS", Optimizer)

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


# -- extreme hyper-parameters and scales through the estimators ---------------
GENERATED_CASES = {"count": 0}
X_W = np.random.default_rng(2).normal(size=(25, 3))
Y_W = X_W[:, 0] - X_W[:, 1]


@settings(max_examples=20)
@given(power_t=st.one_of(st.floats(0, 1e308), st.sampled_from([1e6, 1e308])))
def test_invscaling_with_any_power_t_trains(power_t):
    GENERATED_CASES["count"] += 1
    X, y, _ = small_problem()
    clf = quietly(
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
    assert all(np.isfinite(w).all() for w in weights_of(clf))


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
    reg = quietly(
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
    assert all(np.isfinite(w).all() for w in weights_of(reg))


@settings(max_examples=20)
@given(exponent=st.integers(12, 37), solver=st.sampled_from(sorted(OPTIMIZERS)))
def test_float32_data_too_large_is_named(exponent, solver):
    """Never weights frozen by an overflowed optimiser state without an error."""
    GENERATED_CASES["count"] += 1
    X = (X_W * 10.0**exponent).astype(np.float32)
    reg = DropoutMLPRegressor(hidden_layer_sizes=(3,), solver=solver, max_iter=2)
    try:
        quietly(reg.fit, X, Y_W)
    except ValueError as exc:
        assert "values as large as" in str(exc) and "scale X" in str(exc)
        assert not hasattr(reg, "coefs_")
        return
    assert reg._optimizer.non_finite_state() is None
