"""The core's epoch loop: the steps of an epoch, the non-finite checks, what
an epoch measures, and the stopping rule with its one tracker."""

import numpy as np
import pytest

from skdrop._core import epochs
from skdrop._core.epochs import EpochLoop, EpochRecord
from skdrop._core.network import Network
from skdrop._core.optimizers import SGD, Adam
from skdrop._core.penalty import L2Penalty
from skdrop._core.training import (
    DropoutFreeLoss,
    EpochBatches,
    NoImprovementTracker,
    NonFiniteTrainingError,
)


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    return X, X @ np.array([[1.0], [-2.0], [0.5]])


def _network(dropout=0.0):
    network = Network([3, 5, 1], "tanh", "identity", np.float64)
    network.initialize(np.random.default_rng(0))
    network.set_dropout([0.0, dropout])
    return network


def _loop(
    network=None, optimizer=None, tracker=None, sample_weight=None, shuffle=True,
    batch_size=10, patience=3, **kwargs,
):  # fmt: skip
    """A loop on the 40 rows of :func:`_data`, in batches of 10 rows."""
    X, y = _data()
    network = network or _network()
    return EpochLoop(
        network,
        optimizer or SGD(network.params.size, np.float64, learning_rate_init=0.01),
        EpochBatches(X, y, sample_weight, batch_size, shuffle),
        "squared_error",
        L2Penalty(1e-4, network.n_coef_params),
        np.random.default_rng(1),
        tracker or NoImprovementTracker(1e-4, np.inf, 0, higher_is_better=False),
        patience=patience,
        **kwargs,
    )


def _record_steps(monkeypatch):
    """Record ``(rows, loss)`` of every training step the loop takes."""
    steps = []
    real = epochs.train_on_batch

    def recorded(network, optimizer, loss_name, penalty, X, *args):
        loss = real(network, optimizer, loss_name, penalty, X, *args)
        steps.append((X.shape[0], loss))
        return loss

    monkeypatch.setattr(epochs, "train_on_batch", recorded)
    return steps


def test_an_epoch_steps_once_per_batch_and_returns_the_mean_loss(monkeypatch):
    steps = _record_steps(monkeypatch)
    loop = _loop()
    before = loop.network.params.copy()
    record = loop.train_epoch()
    assert [rows for rows, _ in steps] == [10, 10, 10, 10]
    assert record.loss == pytest.approx(np.mean([loss for _, loss in steps]), rel=1e-12)
    assert record == EpochRecord(record.loss, None, None)
    assert loop.n_epochs == 1
    assert not np.array_equal(loop.network.params, before)


def test_batches_of_zero_weight_are_skipped(monkeypatch):
    X, _ = _data()
    sample_weight = np.ones(len(X))
    sample_weight[:20] = 0.0  # rows 0-19: two whole batches without shuffling
    steps = _record_steps(monkeypatch)
    loop = _loop(sample_weight=sample_weight, shuffle=False)
    assert np.isfinite(loop.train_epoch().loss)
    assert len(steps) == 2


@pytest.mark.parametrize("max_norm", [None, 0.1])
def test_max_norm_bounds_each_hidden_units_incoming_weights(max_norm):
    loop = _loop(max_norm=max_norm)
    loop.train_epoch()
    norms = np.sqrt((loop.network.coefs[0] ** 2).sum(axis=0))
    assert (norms.max() <= 0.1 + 1e-12) == (max_norm is not None)


@pytest.mark.filterwarnings(
    "ignore:overflow encountered:RuntimeWarning",
    "ignore:invalid value encountered:RuntimeWarning",
)
def test_a_non_finite_loss_names_the_epoch():
    loop = _loop()
    loop.train_epoch()
    loop.batches.y = loop.batches.y * np.inf
    with pytest.raises(
        NonFiniteTrainingError, match=r"^the loss became \w+ in epoch 2$"
    ):
        loop.train_epoch()
    assert loop.n_epochs == 1


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_non_finite_weights_are_reported():
    # One step of infinite size: its loss, taken before it, is finite.
    network = _network()
    optimizer = SGD(network.params.size, np.float64, learning_rate_init=np.inf)
    loop = _loop(network, optimizer, batch_size=40)
    with pytest.raises(
        NonFiniteTrainingError, match=r"^the weights became infinite or NaN in epoch 1$"
    ):
        loop.train_epoch()


def test_a_non_finite_optimizer_state_is_reported():
    network = _network()
    optimizer = Adam(network.params.size, np.float64)
    loop = _loop(network, optimizer)
    # Adam divides by the square root of this moment: an infinite one
    # leaves the weights finite but frozen.
    optimizer.second_moment[:] = np.inf
    with pytest.raises(
        NonFiniteTrainingError,
        match=r"^the optimizer's second_moment became infinite or NaN "
        r"\(gradients too large for float64\) in epoch 1$",
    ):
        loop.train_epoch()


def test_one_tracker_counts_across_epochs_and_continues_an_earlier_count():
    # A tol no loss can beat: every epoch is one more without improvement.
    tracker = NoImprovementTracker(1e6, 0.5, 2, higher_is_better=False)
    loop = _loop(tracker=tracker, patience=100)
    losses = []
    for epoch in range(1, 5):
        losses.append(loop.train_epoch().loss)
        assert not loop.end_epoch(time_step=40 * epoch)
        assert loop.tracker is tracker and tracker.count == 2 + epoch
    assert tracker.best == min(0.5, *losses)


def test_the_rule_fires_after_patience_and_the_optimizer_stops(capsys):
    tracker = NoImprovementTracker(1e6, np.inf, 0, higher_is_better=False)
    loop = _loop(tracker=tracker, patience=2)
    stops = []
    for epoch in range(1, 5):
        loop.train_epoch()
        stops.append(loop.end_epoch(time_step=40 * epoch, verbose=True))
    # The first epoch improves on inf; three more exceed a patience of 2.
    assert stops == [False, False, False, True]
    assert capsys.readouterr().out == (
        "Training loss did not improve more than tol=1000000.000000 for 2 "
        "consecutive epochs. Stopping.\n"
    )


def test_a_stalled_adaptive_run_slows_down_and_counts_afresh():
    network = _network()
    optimizer = SGD(network.params.size, np.float64, 0.01, lr_schedule="adaptive")
    tracker = NoImprovementTracker(1e6, 0.0, 5, higher_is_better=False)
    loop = _loop(network, optimizer, tracker, patience=2)
    loop.train_epoch()
    assert not loop.end_epoch(time_step=40)
    assert tracker.count == 0
    assert optimizer.learning_rate == pytest.approx(0.01 / 5)


def test_the_patience_is_at_least_a_share_of_the_epochs_run():
    loop = _loop(patience=1, patience_share=0.5)
    for _ in range(6):
        loop.train_epoch()
    loop.tracker.count = 3  # the patience is max(1, ceil(0.5 * 6)) = 3
    assert not loop.end_epoch(time_step=240)
    loop.tracker.count = 4
    assert loop.end_epoch(time_step=240)
    loop.patience_share, loop.tracker.count = 0.0, 2
    assert loop.end_epoch(time_step=240)


def test_held_out_rows_are_scored_by_the_whole_network_and_the_best_kept():
    X_val, y_val = _data(15, seed=1)
    scores = iter([0.5, 0.9, 0.1, 0.2])  # the second epoch is the best
    seen = []

    def score(output, y, sample_weight):
        np.testing.assert_array_equal(y, y_val)
        seen.append(output.copy())
        return next(scores)

    tracker = NoImprovementTracker(0.0, -np.inf, 0, higher_is_better=True)
    loop = _loop(
        _network(dropout=0.5), tracker=tracker, validation=(X_val, y_val, None),
        score=score,
    )  # fmt: skip
    records = []
    for _ in range(4):
        records.append(loop.train_epoch())
        # The whole network, dropout off, as predict gives it.
        np.testing.assert_array_equal(seen[-1], loop.network.predict(X_val))
    assert [r.validation_score for r in records] == [0.5, 0.9, 0.1, 0.2]
    for output, record in zip(seen, records, strict=True):
        assert record.dropout_free_loss == pytest.approx(
            0.5 * np.mean((output - y_val) ** 2)
        )
    assert tracker.best == 0.9 and tracker.count == 2
    assert not np.array_equal(loop.network.predict(X_val), seen[1])
    loop.restore_best()
    np.testing.assert_array_equal(loop.network.predict(X_val), seen[1])


def test_under_dropout_without_held_out_rows_the_loss_without_dropout_is_judged():
    network = _network(dropout=0.5)
    tracker = NoImprovementTracker(1e-4, np.inf, 0, higher_is_better=False)
    loop = _loop(network, tracker=tracker)
    X, y = _data()
    monitor = DropoutFreeLoss(X, y, None, "squared_error", loop.penalty, 10)
    record = loop.train_epoch()
    assert record.validation_score is None
    assert record.dropout_free_loss == monitor(network) == tracker.best
    assert record.dropout_free_loss != record.loss
