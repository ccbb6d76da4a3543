"""Grouped dropout masks: the network's pass with GroupMasks against its definition.

The definition is the dense masked step: every row gets its group's mask,
dropped units are multiplied by zero. The network's pass on the kept
submatrices must compute the same loss and gradient (to rounding), and that
gradient must be the derivative of the loss with the masks held fixed.
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from dense_reference import dense_masked_step

from skdrop._core.layout import parameter_views
from skdrop._core.masking import GroupMasks, group_bounds
from skdrop._core.network import Network
from skdrop._core.noise import NOISE, draw_keep_mask

UNITS = [7, 6, 5, 3]
N_ROWS = 10
# Output activation paired with each loss (the canonical links).
OUTPUTS = {
    "log_loss": "softmax",
    "squared_error": "identity",
    "binary_log_loss": "logistic",
    "poisson": "exp",
}
ACTIVATIONS = ["relu", "tanh", "logistic", "selu", "identity"]


def n_params(units):
    return sum((a + 1) * b for a, b in itertools.pairwise(units))


def make_problem(seed, loss="log_loss", dtype=np.float64, n_rows=N_ROWS, units=UNITS):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, units[0]))
    n_out = units[-1]
    if loss == "log_loss":
        y = np.eye(n_out)[rng.integers(0, n_out, n_rows)]
    elif loss == "binary_log_loss":
        y = rng.integers(0, 2, (n_rows, n_out)).astype(float)
    elif loss == "poisson":
        y = rng.poisson(1.0, (n_rows, n_out)).astype(float)
    else:
        y = rng.standard_normal((n_rows, n_out))
    params = 0.5 * rng.standard_normal(n_params(units))
    sample_weight = rng.uniform(0.2, 2.0, n_rows)
    return X.astype(dtype), y.astype(dtype), params.astype(dtype), sample_weight


class GroupedStep:
    """A network whose training steps share masks in groups, driven with
    masks the test chooses."""

    def __init__(self, units, activation, loss, dtype, rates, group_size):
        self.network = Network(units, activation, OUTPUTS[loss], dtype)
        self.network.set_dropout(rates, group_size=group_size)
        self.masks = self.network._training_masks
        self.layer_units, self.activation = units, activation
        self.out_activation, self.loss_name = OUTPUTS[loss], loss
        self.dropouts = self.network.dropouts

    def draw_masks(self, rng, n_rows):
        return self.masks.draw(rng, n_rows)

    def gradient(self, params, grad, X, y, sample_weight, masks):
        """Loss and gradient at ``params`` with the group masks ``masks``."""
        chosen = [None if m is None else m.copy() for m in masks]
        drawn = self.masks.draw(np.random.default_rng(0), X.shape[0])
        for buffer, mask in zip(drawn, chosen, strict=True):
            if buffer is not None:
                buffer[...] = mask
        self.network.params[...] = params
        result = self.network.loss_and_gradient(
            X, y, sample_weight, self.loss_name, self.masks
        )
        grad[...] = self.network.grad
        return result

    def train_step_gradient(self, params, grad, X, y, sample_weight, rng):
        self.network.params[...] = params
        result = self.network.train_step_gradient(
            X, y, sample_weight, self.loss_name, rng
        )
        grad[...] = self.network.grad
        return result


def make_step(rates, group_size, activation="relu", loss="log_loss", **kwargs):
    units = kwargs.pop("units", UNITS)
    dtype = kwargs.pop("dtype", np.float64)
    return GroupedStep(units, activation, loss, dtype, rates, group_size)


def run(step, params, X, y, sample_weight, masks):
    grad = np.full_like(params, np.nan)  # every entry must be written
    loss, weight_sum = step.gradient(params, grad, X, y, sample_weight, masks)
    return loss, grad, weight_sum


def reference(step, rates, params, X, y, sample_weight, masks, group_size):
    return dense_masked_step(
        params,
        step.layer_units,
        step.activation,
        step.out_activation,
        step.loss_name,
        rates,
        X,
        y,
        sample_weight,
        masks,
        group_size,
    )


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("group_size", ["batch", 1, 3, 4])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_dense_masked_step(activation, group_size, sparse, weighted):
    seed = 4 * ACTIVATIONS.index(activation) + 2 * sparse + weighted
    X, y, params, sample_weight = make_problem(seed)
    sample_weight = sample_weight if weighted else None
    X = sp.csr_matrix(X) if sparse else X
    for rates in ([0.3, 0.5, 0.25], [0.0, 0.5, 0.0], [0.5, 0.0, 0.9]):
        step = make_step(rates, group_size, activation)
        masks = step.draw_masks(np.random.default_rng(seed), N_ROWS)
        loss, grad, _ = run(step, params, X, y, sample_weight, masks)
        expected_loss, expected_grad = reference(
            step, rates, params, X, y, sample_weight, masks, group_size
        )
        assert loss == pytest.approx(expected_loss, abs=1e-12, rel=1e-12)
        np.testing.assert_allclose(grad, expected_grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("loss", sorted(OUTPUTS))
def test_equals_dense_masked_step_for_every_loss(loss):
    X, y, params, sample_weight = make_problem(3, loss)
    step = make_step([0.2, 0.5, 0.5], 4, "tanh", loss)
    masks = step.draw_masks(np.random.default_rng(4), N_ROWS)
    value, grad, _ = run(step, params, X, y, sample_weight, masks)
    expected_loss, expected_grad = reference(
        step, [0.2, 0.5, 0.5], params, X, y, sample_weight, masks, 4
    )
    assert value == pytest.approx(expected_loss, abs=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=0, atol=1e-12)


def finite_difference_gradient(
    step, params, X, y, sample_weight, masks, coordinates, eps=1e-6
):
    grad = np.empty(len(coordinates))
    scratch = np.empty_like(params)
    for i, k in enumerate(coordinates):
        shifted = params.copy()
        shifted[k] += eps
        plus, _ = step.gradient(shifted, scratch, X, y, sample_weight, masks)
        shifted[k] -= 2 * eps
        minus, _ = step.gradient(shifted, scratch, X, y, sample_weight, masks)
        grad[i] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_gradient_matches_finite_differences(activation, weighted, sparse):
    units = [4, 5, 4, 2]
    X, y, params, sample_weight = make_problem(
        11, "squared_error" if sparse else "log_loss", n_rows=7, units=units
    )
    loss = "squared_error" if sparse else "log_loss"
    sample_weight = sample_weight if weighted else None
    X = sp.csr_matrix(X) if sparse else X
    step = make_step([0.25, 0.5, 0.5], 3, activation, loss, units=units)
    masks = step.draw_masks(np.random.default_rng(5), 7)
    _, grad, _ = run(step, params, X, y, sample_weight, masks)
    # A fixed sample of coordinates from every weight matrix and bias vector
    # (the whole gradient is compared with the dense masked step elsewhere).
    coordinates = np.random.default_rng(0).choice(params.size, 24, replace=False)
    numeric = finite_difference_gradient(
        step, params, X, y, sample_weight, masks, coordinates
    )
    np.testing.assert_allclose(grad[coordinates], numeric, rtol=1e-5, atol=1e-8)


def keep_all_masks(step, n_groups):
    return [
        None if d is None else np.ones((n_groups, d.width), dtype=bool)
        for d in step.dropouts
    ]


def test_unit_dropped_in_every_group_gets_zero_gradient():
    X, y, params, sample_weight = make_problem(21)
    step = make_step([0.5, 0.5, 0.5], 3)
    masks = keep_all_masks(step, 4)
    masks[1][:, 2] = False  # hidden unit 2 of the first hidden layer
    masks[0][:, 5] = False  # input feature 5
    _, grad, _ = run(step, params, X, y, sample_weight, masks)
    coef_grads, intercept_grads = parameter_views(grad, UNITS)
    assert np.all(coef_grads[0][:, 2] == 0)  # incoming weights
    assert np.all(coef_grads[1][2, :] == 0)  # outgoing weights
    assert intercept_grads[0][2] == 0
    assert np.all(coef_grads[0][5, :] == 0)
    # The other units do receive a gradient: the zeros above are not vacuous.
    assert np.count_nonzero(coef_grads[0][:, [0, 1, 3, 4, 5]]) > 0
    assert np.count_nonzero(coef_grads[1][[0, 1, 3, 4, 5], :]) > 0


def test_unit_dropped_in_one_group_only_gets_gradient_from_the_others():
    # Rows of group 0 alone carry a gradient for a unit dropped in group 1:
    # the step's gradient equals the one computed on group 0's rows alone,
    # up to the weighting of the mean over the whole batch.
    X, y, params, _ = make_problem(22)
    step = make_step([0.0, 0.5, 0.0], 5, "tanh")
    masks = keep_all_masks(step, 2)
    masks[1][1, 3] = False
    _, grad, _ = run(step, params, X, y, None, masks)
    only_first = np.r_[np.ones(5), np.zeros(5)]
    _, grad_first, _ = run(step, params, X, y, only_first, masks)
    coef_grads, _ = parameter_views(grad, UNITS)
    first, _ = parameter_views(grad_first, UNITS)
    np.testing.assert_allclose(coef_grads[1][3], first[1][3] / 2, rtol=1e-12)
    assert np.all(coef_grads[1][3] != 0)


def test_group_that_drops_every_unit_of_a_layer():
    X, y, params, sample_weight = make_problem(23)
    rates = [0.5, 0.5, 0.5]
    step = make_step(rates, 4)
    masks = step.draw_masks(np.random.default_rng(0), N_ROWS)
    masks[2][1] = False  # group 1 keeps no unit of the second hidden layer
    masks[0][2] = False  # group 2 keeps no input feature
    loss, grad, _ = run(step, params, X, y, sample_weight, masks)
    expected_loss, expected_grad = reference(
        step, rates, params, X, y, sample_weight, masks, 4
    )
    assert np.isfinite(loss)
    assert loss == pytest.approx(expected_loss, abs=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=0, atol=1e-12)
    # Group 1's output is then its output layer's biases, for each of its rows.
    _, intercepts = parameter_views(params, UNITS)
    logits = intercepts[2] - intercepts[2].max()
    softmax = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(step.network._output[4:8], np.tile(softmax, (4, 1)))


def test_every_unit_of_every_layer_dropped():
    X, y, params, _ = make_problem(24)
    step = make_step([0.5, 0.5, 0.5], "batch")
    masks = [np.zeros((1, w), dtype=bool) for w in UNITS[:-1]]
    loss, grad, _ = run(step, params, X, y, None, masks)
    coef_grads, intercept_grads = parameter_views(grad, UNITS)
    assert np.isfinite(loss)
    assert all(np.all(g == 0) for g in coef_grads)
    assert np.any(intercept_grads[2] != 0)


@pytest.mark.parametrize("group_size", [1, 3, 4, 10, 64, "batch"])
def test_group_bounds_cover_the_batch_once(group_size):
    bounds = group_bounds(N_ROWS, group_size)
    rows = np.concatenate([np.arange(a, b) for a, b in bounds])
    np.testing.assert_array_equal(rows, np.arange(N_ROWS))
    size = N_ROWS if group_size == "batch" else group_size
    assert all(b - a == size for a, b in bounds[:-1])
    assert 0 < bounds[-1][1] - bounds[-1][0] <= size


def test_last_batch_smaller_than_a_group():
    X, y, params, sample_weight = make_problem(25)
    step = make_step([0.5, 0.5, 0.5], 8)
    for n_rows in (10, 3):  # a short last group, then a batch under one group
        masks = step.draw_masks(np.random.default_rng(n_rows), n_rows)
        assert masks[1].shape == (len(group_bounds(n_rows, 8)), UNITS[1])
        loss, grad, _ = run(
            step, params, X[:n_rows], y[:n_rows], sample_weight[:n_rows], masks
        )
        expected_loss, expected_grad = reference(
            step,
            [0.5] * 3,
            params,
            X[:n_rows],
            y[:n_rows],
            sample_weight[:n_rows],
            masks,
            8,
        )
        assert loss == pytest.approx(expected_loss, abs=1e-12)
        np.testing.assert_allclose(grad, expected_grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("rate", [0.5, 0.25, 0.3, 0.9])
def test_dropped_fraction_matches_the_rate(rate):
    # 1, 8 and 16 random bits per element; 5-sigma binomial tolerance.
    threshold = round(rate * 65536)
    mask = np.empty((400, 50), dtype=bool)
    draw_keep_mask(np.random.default_rng(7), threshold, mask)
    p = threshold / 65536
    dropped = 1.0 - mask.mean()
    assert abs(dropped - p) <= 5 * np.sqrt(p * (1 - p) / mask.size)
    # Units are dropped independently: each unit's rate over the groups too.
    per_unit = 1.0 - mask.mean(axis=0)
    assert abs(per_unit.mean() - p) <= 5 * np.sqrt(p * (1 - p) / mask.size)


def test_one_mask_per_group_and_determinism():
    step = make_step([0.3, 0.5, 0.5], 3)
    first = [m.copy() for m in step.draw_masks(np.random.default_rng(1), N_ROWS)]
    again = step.draw_masks(np.random.default_rng(1), N_ROWS)
    assert [m.shape for m in first] == [(4, w) for w in UNITS[:-1]]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    X, y, params, sample_weight = make_problem(2)
    grads = []
    for _ in range(2):
        grad = np.empty_like(params)
        step.train_step_gradient(
            params, grad, X, y, sample_weight, np.random.default_rng(9)
        )
        grads.append(grad)
    np.testing.assert_array_equal(grads[0], grads[1])


def test_float32_agrees_with_float64():
    X, y, params, sample_weight = make_problem(26)
    rates = [0.2, 0.5, 0.5]
    step64 = make_step(rates, 4, "tanh")
    step32 = make_step(rates, 4, "tanh", dtype=np.float32)
    masks = [m.copy() for m in step64.draw_masks(np.random.default_rng(3), N_ROWS)]
    loss64, grad64, _ = run(step64, params, X, y, sample_weight, masks)
    p32 = params.astype(np.float32)
    grad32 = np.empty_like(p32)
    loss32, _ = step32.gradient(
        p32,
        grad32,
        X.astype(np.float32),
        y.astype(np.float32),
        sample_weight.astype(np.float32),
        masks,
    )
    assert grad32.dtype == np.float32
    assert step32.network._output.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-4)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-4, atol=1e-5)


def test_returns_the_total_sample_weight():
    X, y, params, sample_weight = make_problem(27)
    step = make_step([0.5, 0.5, 0.5], 4)
    masks = step.draw_masks(np.random.default_rng(0), N_ROWS)
    assert run(step, params, X, y, None, masks)[2] == N_ROWS
    total = run(step, params, X, y, sample_weight, masks)[2]
    assert total == pytest.approx(sample_weight.sum())


def test_rates_must_match_the_droppable_layers():
    dropouts = [NOISE["bernoulli"](0.5, width, np.float64) for width in UNITS[:2]]
    with pytest.raises(ValueError, match="Expected 3 dropout layers"):
        GroupMasks(UNITS, dropouts, 4, np.float64)


@pytest.mark.parametrize("kind", ["gaussian", "alpha"])
def test_only_noise_that_zeroes_dropped_units_shares_masks(kind):
    network = Network(UNITS, "relu", "softmax", np.float64)
    with pytest.raises(ValueError, match="only with noise that zeroes the dropped"):
        network.set_dropout([0.5, 0.5, 0.5], kind, group_size=4)


def test_learned_rates_do_not_share_masks():
    network = Network(UNITS, "relu", "softmax", np.float64)
    with pytest.raises(ValueError, match="RelaxedBernoulli does not"):
        network.set_dropout([0.0, "auto", 0.5], group_size=4)


def test_group_size_must_be_positive():
    with pytest.raises(ValueError, match="group_size must be 'batch' or >= 1"):
        make_step([0.5, 0.5, 0.5], 0)


def test_batch_larger_than_the_last_one_grows_the_buffers():
    X, y, params, sample_weight = make_problem(28)
    step = make_step([0.5, 0.5, 0.5], 2)
    run(step, params, X[:4], y[:4], None, step.draw_masks(np.random.default_rng(1), 4))
    masks = step.draw_masks(np.random.default_rng(0), N_ROWS)
    loss, grad, _ = run(step, params, X, y, sample_weight, masks)
    expected_loss, expected_grad = reference(
        step, [0.5] * 3, params, X, y, sample_weight, masks, 2
    )
    assert loss == pytest.approx(expected_loss, abs=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=0, atol=1e-12)


def test_gradient_steps_with_grouped_masks_reduce_the_clean_loss():
    X, y, params, _ = make_problem(29, n_rows=40)
    noisy = make_step([0.0, 0.3, 0.3], 8, "tanh")
    clean = Network(UNITS, "tanh", "softmax", np.float64)

    def clean_loss():
        clean.params[...] = params
        return clean.train_step_gradient(X, y, None, "log_loss", None)[0]

    start = clean_loss()
    grad = np.empty_like(params)
    rng = np.random.default_rng(0)
    for _ in range(100):
        noisy.train_step_gradient(params, grad, X, y, None, rng)
        params -= 0.2 * grad
    assert clean_loss() < 0.8 * start  # about 0.62 for every seed tried


def test_scatter_without_scipys_compiled_accumulation(monkeypatch):
    # The fallback for a SciPy that moved its private sparse tools.
    from skdrop._core import submatrix as _submatrix

    monkeypatch.setattr(_submatrix, "_csr_add_into_dense", None)
    X, y, params, sample_weight = make_problem(30)
    rates = [0.3, 0.5, 0.0]
    step = make_step(rates, 4)
    masks = step.draw_masks(np.random.default_rng(1), N_ROWS)
    _, grad, _ = run(step, params, X, y, sample_weight, masks)
    _, expected_grad = reference(step, rates, params, X, y, sample_weight, masks, 4)
    np.testing.assert_allclose(grad, expected_grad, rtol=0, atol=1e-12)
