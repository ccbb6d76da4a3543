"""Pure-NumPy training pieces: epoch batches, a step, stopping, L-BFGS."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from skdrop._core.network import Network
from skdrop._core.optimizers import SGD, Adam
from skdrop._core.penalty import L2Penalty
from skdrop._core.training import (
    DropoutFreeLoss,
    EpochBatches,
    NoImprovementTracker,
    NonFiniteTrainingError,
    SelectionOptimism,
    minimize_lbfgs,
    train_on_batch,
)


def _data(n=23, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]])
    return X, y, np.arange(n, dtype=np.float64)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_epoch_visits_each_row_once_with_its_target_and_weight(shuffle, sparse):
    X, y, sw = _data()
    batches = EpochBatches(sp.csr_matrix(X) if sparse else X, y, sw, 5, shuffle)
    rng = np.random.default_rng(1)
    orders = []
    for _ in range(2):
        seen = []
        for X_batch, y_batch, sw_batch in batches.epoch(rng):
            assert X_batch.shape[0] <= 5
            rows = sw_batch.astype(int)
            dense = X_batch.toarray() if sparse else X_batch
            np.testing.assert_array_equal(dense, X[rows])
            np.testing.assert_array_equal(y_batch, y[rows])
            seen.extend(rows)
        assert sorted(seen) == list(range(23))
        orders.append(seen)
    assert (orders[0] != orders[1]) == shuffle
    assert (orders[0] == list(range(23))) == (not shuffle)


def test_shuffled_dense_batches_reuse_one_buffer():
    X, y, _ = _data()
    batches = EpochBatches(X, y, None, 5, shuffle=True)
    first, *_ = next(batches.epoch(np.random.default_rng(0)))
    second, *_ = next(batches.epoch(np.random.default_rng(1)))
    assert np.shares_memory(first, second)


def test_tracker_follows_scikit_learns_rule_for_a_loss():
    tracker = NoImprovementTracker(
        tol=0.1, best=np.inf, count=0, higher_is_better=False
    )
    assert tracker.record(1.0) and tracker.count == 0
    assert tracker.record(0.95)  # a new best, but not by tol
    assert tracker.count == 1 and tracker.best == 0.95
    assert not tracker.record(2.0) and tracker.count == 2
    assert tracker.record(0.5) and tracker.count == 0


def test_tracker_follows_scikit_learns_rule_for_a_score():
    tracker = NoImprovementTracker(
        tol=0.1, best=-np.inf, count=3, higher_is_better=True
    )
    assert tracker.record(0.5) and tracker.count == 0
    assert tracker.record(0.55) and tracker.count == 1
    assert not tracker.record(0.2) and tracker.count == 2
    assert tracker.best == 0.55


def _network():
    network = Network([3, 4, 1], "tanh", "identity", np.float64)
    network.initialize(np.random.default_rng(0))
    return network


def test_a_step_returns_the_loss_with_penalty_and_moves_the_weights():
    X, y, _ = _data()
    network = _network()
    before = network.params.copy()
    penalty = L2Penalty(0.5, network.n_coef_params)
    loss = train_on_batch(
        network, SGD(network.params.size, np.float64), "squared_error", penalty,
        X, y, None, None,
    )  # fmt: skip
    output = _network().forward(X)
    weights = before[: network.n_coef_params]
    # Half the mean squared error plus alpha / (2 n) * ||W||^2, before the step.
    expected = 0.5 * np.mean((output - y) ** 2) + 0.25 / 23 * weights @ weights
    assert loss == pytest.approx(expected, rel=1e-12)
    assert not np.array_equal(network.params, before)


@pytest.mark.filterwarnings(
    "ignore:overflow encountered:RuntimeWarning",
    "ignore:invalid value encountered:RuntimeWarning",
)
def test_a_non_finite_loss_is_reported():
    X, y, _ = _data()
    network = _network()
    with pytest.raises(NonFiniteTrainingError, match="the loss became"):
        train_on_batch(
            network, SGD(network.params.size, np.float64), "squared_error",
            L2Penalty(0.0, 0), X, y * np.inf, None, None,
        )  # fmt: skip


def test_lbfgs_fits_and_leaves_its_solution_in_the_network():
    X, y, _ = _data(200)
    network = _network()
    penalty = L2Penalty(1e-4, network.n_coef_params)
    start = network.forward(X).copy()
    # 50 iterations bring the error to about 1e-4 of the start's.
    result = minimize_lbfgs(
        network, X, y, None, "squared_error", penalty, {"maxiter": 50}
    )
    np.testing.assert_array_equal(network.params, result.x)
    fitted = network.forward(X)
    assert np.mean((fitted - y) ** 2) < 0.1 * np.mean((start - y) ** 2)


# -- no large allocation per training step -------------------------------
def _peak_bytes_of(step):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        step()
        return tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("activation", "kind", "solver"),
    [
        ("relu", "bernoulli", "sgd"),
        ("relu", "bernoulli", "adam"),
        ("selu", "alpha", "sgd"),
        ("tanh", "gaussian", "adam"),
        ("logistic", "bernoulli", "sgd"),
    ],
)
def test_training_step_allocates_no_large_array(activation, kind, solver):
    width, n_rows, dtype = 1024, 256, np.float32
    network = Network([32, width, width, 10], activation, "softmax", dtype)
    network.initialize(np.random.default_rng(0))
    network.set_dropout([0.2, 0.5, 0.5], kind)
    optimizer = (SGD if solver == "sgd" else Adam)(network.params.size, dtype)
    data_rng = np.random.default_rng(1)
    X = data_rng.standard_normal((n_rows, 32)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[data_rng.integers(10, size=n_rows)]
    mask_rng = np.random.default_rng(2)
    penalty = L2Penalty(1e-4, network.n_coef_params)

    def step():
        # As the estimators' training loop does it.
        _, weight_sum = network.train_step_gradient(X, Y, None, "log_loss", mask_rng)
        optimizer.step(
            network.params, network.grad, penalty, penalty.strength(weight_sum)
        )

    step()  # the first step allocates the reused buffers
    activation_bytes = n_rows * width * np.dtype(dtype).itemsize
    assert _peak_bytes_of(step) < activation_bytes / 8


@pytest.mark.parametrize(
    ("n_rows", "expected"), [(100, 100), (1000, 250), (20_000, 2000)]
)
def test_dropout_free_loss_samples_a_quarter_of_the_rows_up_to_a_cap(n_rows, expected):
    X = np.zeros((n_rows, 3))
    y = np.zeros((n_rows, 1))
    monitor = DropoutFreeLoss(X, y, None, "squared_error", L2Penalty(0.0, 3), 10)
    assert monitor.X.shape[0] == expected


# -- the optimism of choosing the epoch on the held-out rows ---------------
def test_selection_optimism_is_one_with_a_single_epoch():
    y = np.arange(6.0).reshape(-1, 1)
    optimism = SelectionOptimism(y, None)
    optimism.record(y + 0.5, chosen=True)
    assert optimism.factor() == pytest.approx(1.0)


def test_selection_optimism_scores_each_half_at_the_other_halfs_best_epoch():
    # Rows 0, 2 form one half, rows 1, 3 the other. Epoch 1 fits the first
    # half exactly, epoch 2 the second; epoch 3, the best on all rows, fits
    # both halves with residual 0.5.
    y = np.zeros((4, 1))
    optimism = SelectionOptimism(y, None)
    optimism.record(np.array([[0.0], [2.0], [0.0], [2.0]]), chosen=True)
    optimism.record(np.array([[3.0], [0.0], [3.0], [0.0]]), chosen=False)
    optimism.record(np.full((4, 1), 0.5), chosen=True)
    # Crossed: the second half at epoch 1 (2 * 4) and the first half at
    # epoch 2 (2 * 9); chosen: 4 * 0.25.
    assert optimism.factor() == pytest.approx((8.0 + 18.0) / 1.0)


def test_selection_optimism_weighs_rows_by_relative_sample_weight():
    y = np.zeros((4, 1))
    tiny = SelectionOptimism(y, np.full(4, 1e-320))
    plain = SelectionOptimism(y, None)
    for output, chosen in [(np.full((4, 1), 1.0), True), (np.full((4, 1), 2.0), False)]:
        tiny.record(output, chosen)
        plain.record(output, chosen)
    assert tiny.factor() == pytest.approx(plain.factor()) == pytest.approx(1.0)
