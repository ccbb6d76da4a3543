"""The epoch loop of the 'sgd' and 'adam' solvers: stopping, early stopping,
partial_fit's epochs and masks, and verbose output like scikit-learn's.

Verbose lines are compared with scikit-learn's as templates: the numbers
differ (dropout changes the losses), so every number is replaced by a
placeholder that keeps its format (digits after the decimal point).
"""

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from support import small_problem

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._core.optimizers import SOLVERS
from skdrop._stochastic import MIN_PATIENCE_STEPS


def test_convergence_warning_when_max_iter_is_reached(classification):
    X, y = classification
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        DropoutMLPClassifier(max_iter=2, random_state=0).fit(X, y)


def test_tol_stops_training_before_max_iter(classification):
    X, y = classification
    clf = DropoutMLPClassifier(
        max_iter=500, tol=10.0, n_iter_no_change=2, dropout_rate=0.0, random_state=0
    ).fit(X, y)
    reference = MLPClassifier(max_iter=500, tol=10.0, n_iter_no_change=2).fit(X, y)
    assert clf.n_iter_ == reference.n_iter_ == 4


def test_under_dropout_the_patience_is_at_least_min_patience_steps(classification):
    # A small data set makes few steps per epoch: ten epochs of patience
    # would be a few dozen noisy steps.
    X, y = classification
    clf = DropoutMLPClassifier(
        max_iter=5000, tol=10.0, n_iter_no_change=2, random_state=0
    ).fit(X, y)
    steps_per_epoch = -(-len(y) // min(200, len(y)))
    assert clf.n_iter_ == -(-MIN_PATIENCE_STEPS // steps_per_epoch) + 2


def test_partial_fit_runs_one_epoch_per_call_and_accumulates(classification):
    X, y = classification
    clf = DropoutMLPClassifier(random_state=0)
    clf.partial_fit(X[:100], y[:100], classes=np.unique(y))
    clf.partial_fit(X[100:], y[100:])
    assert clf.n_iter_ == 1  # as in scikit-learn: the epochs of the last call
    assert clf.t_ == X.shape[0]
    assert len(clf.loss_curve_) == 2


def test_the_stopping_records_continue_across_partial_fit_calls(classification):
    """Each call's tracker starts from the best loss and count the previous
    call kept: with a tol no epoch beats, the count grows by one a call."""
    X, y = classification
    clf = DropoutMLPClassifier(
        dropout_rate=0.0, tol=1e6, n_iter_no_change=100, random_state=0
    )
    counts = []
    for _ in range(4):
        clf.partial_fit(X, y, classes=np.unique(y))
        counts.append(clf._no_improvement_count)
    assert counts == [0, 1, 2, 3]
    assert clf.best_loss_ == min(clf.loss_curve_)


def test_partial_fit_draws_new_masks_at_every_call():
    """Fed the same single row twice, the two updates drop different units.

    With one row per step, no momentum and no penalty, a dropped hidden unit's
    incoming weights do not move, so the moved columns show the mask.
    """
    X, y = make_classification(n_samples=1, n_features=5, random_state=0)[0], [1]
    params = dict(
        hidden_layer_sizes=(40,),
        solver="sgd",
        momentum=0.0,
        alpha=0.0,
        learning_rate_init=0.1,
        random_state=0,
    )
    clf = DropoutMLPClassifier(**params)
    clf.partial_fit(X, y, classes=[0, 1])
    after_one = clf.coefs_[0].copy()
    clf.partial_fit(X, y)
    moved_second = np.abs(clf.coefs_[0] - after_one).sum(axis=0) > 0
    assert 0 < moved_second.sum() < 40
    replay = DropoutMLPClassifier(**params)
    replay.partial_fit(X, y, classes=[0, 1])
    np.testing.assert_array_equal(replay.coefs_[0], after_one)
    initial = _initial_first_layer(params, X, y)
    moved_first = np.abs(after_one - initial).sum(axis=0) > 0
    assert 0 < moved_first.sum() < 40
    assert not np.array_equal(moved_first, moved_second)


def _initial_first_layer(params, X, y):
    """First-layer weights at initialisation: a fit with a zero learning rate
    is impossible, so take one SGD step of size ~0 instead."""
    tiny = DropoutMLPClassifier(**{**params, "learning_rate_init": 1e-300})
    tiny.partial_fit(X, y, classes=[0, 1])
    return tiny.coefs_[0]


def test_partial_fit_refuses_early_stopping(classification):
    X, y = classification
    with pytest.raises(ValueError, match="early_stopping"):
        DropoutMLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_early_stopping_records_scores_and_keeps_the_best_weights(classification):
    X, y = classification
    clf = DropoutMLPClassifier(
        early_stopping=True, max_iter=40, n_iter_no_change=3, random_state=0
    ).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None


def test_early_stopping_split_is_stratified_for_multiclass(monkeypatch):
    X, y = make_classification(
        n_samples=200,
        n_classes=4,
        n_informative=4,
        weights=[0.7, 0.1, 0.1, 0.1],
        random_state=0,
    )
    seen = {}
    import skdrop._stochastic as base

    real_split = base.train_test_split

    def spy(*arrays, **kwargs):
        seen["stratify"] = kwargs["stratify"]
        return real_split(*arrays, **kwargs)

    monkeypatch.setattr(base, "train_test_split", spy)
    DropoutMLPClassifier(early_stopping=True, max_iter=1).fit(X, y)
    np.testing.assert_array_equal(seen["stratify"], y)


def test_validation_score_uses_the_whole_network(classification, monkeypatch):
    """Validation accuracy is the deterministic score, not a noisy one: the
    outputs it scores are the whole network's probabilities of those rows."""
    X, y = classification
    clf = DropoutMLPClassifier(
        early_stopping=True, max_iter=1, validation_fraction=0.5, random_state=0
    )
    seen = []
    real = DropoutMLPClassifier._score_output

    def recording(self, output, y_val, sample_weight=None):
        seen.append(output.copy())
        return real(self, output, y_val, sample_weight)

    monkeypatch.setattr(DropoutMLPClassifier, "_score_output", recording)
    clf.fit(X, y)
    proba = clf.predict_proba(X)
    assert len(seen) == 1 and len(seen[0]) == len(y) // 2
    for row in seen[0]:
        assert np.isclose(proba, row).all(axis=1).any()


# -- verbose output ----------------------------------------
_NUMBER = re.compile(r"-?\d+(\.\d+)?(e[+-]?\d+)?")


def _template(line):
    """``'loss = 0.12345678'`` -> ``'loss = <num.8>'``."""

    def placeholder(match):
        fraction = match.group(1)
        return f"<num.{len(fraction) - 1}>" if fraction else "<int>"

    return _NUMBER.sub(placeholder, line)


def _verbose_lines(model, X, y, capsys):
    capsys.readouterr()
    model.fit(X, y)
    return [_template(line) for line in capsys.readouterr().out.splitlines()]


CASES = {
    "loss per epoch": {"max_iter": 4},
    "early stopping": {"max_iter": 6, "early_stopping": True},
    # A huge tol makes every epoch a non-improvement: the stopping message.
    # Batches of 10 rows (12 steps an epoch): the patience of at least
    # MIN_PATIENCE_STEPS steps is 42 epochs, not the 500 of whole-batch
    # epochs, and both fits print a tenth of the lines.
    "stall": {"max_iter": 50, "tol": 1e6, "n_iter_no_change": 2, "batch_size": 10},
    "adaptive sgd": {
        "solver": "sgd",
        "learning_rate": "adaptive",
        "max_iter": 12,
        "tol": 1e6,
        "n_iter_no_change": 2,
        "batch_size": 10,
    },
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(DropoutMLPClassifier, MLPClassifier), (DropoutMLPRegressor, MLPRegressor)],
)
def test_verbose_lines_match_scikit_learn(ours, theirs, case, capsys, binary):
    X, y = binary
    params = {"hidden_layer_sizes": (6,), "random_state": 0, "verbose": True}
    params.update(CASES[case])
    reference = dict(params)
    if "n_iter_no_change" in params:
        # Under dropout, the patience is at least MIN_PATIENCE_STEPS steps.
        batch_size = min(params.get("batch_size", 200), len(y))
        steps_per_epoch = -(-len(y) // batch_size)
        patience = max(2, -(-MIN_PATIENCE_STEPS // steps_per_epoch))
        reference["n_iter_no_change"] = patience
        reference["max_iter"] = params["max_iter"] = 3 * patience + 3
    expected = _verbose_lines(theirs(**reference), X, y, capsys)
    got = _verbose_lines(ours(**params, dropout_rate=0.2), X, y, capsys)
    assert expected  # scikit-learn printed something to compare with
    assert got == expected


def test_template_keeps_the_format():
    assert _template("Iteration 12, loss = 0.69314718") == (
        "Iteration <int>, loss = <num.8>"
    )
    assert _template("Validation score: 0.500000") == "Validation score: <num.6>"


def test_silent_by_default(capsys, binary):
    X, y = binary
    DropoutMLPClassifier(hidden_layer_sizes=(4,), max_iter=3).fit(X, y)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("solver", SOLVERS)
def test_max_iter_bounds_training(solver):
    """tol=0 and n_iter_no_change=inf: only max_iter can stop training."""
    X, _, y_reg = small_problem()
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


def _replay_rule_on_noisy_loss(loss_curve, tol=1e-4, patience=10):
    """The epoch at which scikit-learn's rule, reading the noisy training
    loss, would have stopped (None if it never fires)."""
    best, count = np.inf, 0
    for epoch, loss in enumerate(loss_curve, start=1):
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count > patience:
            return epoch
    return None


def test_under_dropout_a_small_data_set_trains_past_the_noisy_loss_plateau():
    # 300 rows make two steps per epoch: the noisy training loss stops
    # improving by tol long before the network has converged.
    X, y = make_regression(300, 6, noise=5.0, random_state=0)
    y = (y - y.mean()) / y.std()
    reg = DropoutMLPRegressor(random_state=0).fit(X, y)
    old_stop = _replay_rule_on_noisy_loss(reg.loss_curve_)
    assert old_stop is not None and reg.n_iter_ > 2 * old_stop
    curve = reg.dropout_free_loss_curve_
    assert len(curve) == reg.n_iter_
    # The loss without dropout kept falling well after the old stop.
    assert curve[-1] < 0.5 * curve[old_stop - 1]
    assert reg.best_loss_ == min(curve)


def test_dropout_free_curve_reads_held_out_rows_with_early_stopping():
    X, y = make_regression(300, 6, noise=5.0, random_state=0)
    reg = DropoutMLPRegressor(early_stopping=True, max_iter=30, random_state=0)
    reg.fit(X, y / y.std())
    assert len(reg.dropout_free_loss_curve_) == len(reg.validation_scores_)
    assert reg.best_loss_ is None


def test_without_dropout_there_is_no_dropout_free_curve():
    X, y = make_regression(100, 3, random_state=0)
    reg = DropoutMLPRegressor(dropout_rate=0.0, max_iter=5).fit(X, y / y.std())
    assert reg.dropout_free_loss_curve_ is None
    assert reg.n_iter_ == 5
