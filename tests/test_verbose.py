"""Verbose output reads like scikit-learn's MLP, line for line.

The numbers differ (dropout changes the losses), so lines are compared as
templates: every number is replaced by a placeholder that keeps its format
(digits after the decimal point), and the sequences of templates must match.
"""

import re

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor

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


def _data():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((120, 4))
    return X, (X[:, 0] - X[:, 1] > 0).astype(int)


CASES = {
    "loss per epoch": {"max_iter": 4},
    "early stopping": {"max_iter": 6, "early_stopping": True},
    # A huge tol makes every epoch a non-improvement: the stopping message.
    "stall": {"max_iter": 50, "tol": 1e6, "n_iter_no_change": 2},
    "adaptive sgd": {
        "solver": "sgd",
        "learning_rate": "adaptive",
        "max_iter": 12,
        "tol": 1e6,
        "n_iter_no_change": 2,
    },
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(DropoutMLPClassifier, MLPClassifier), (DropoutMLPRegressor, MLPRegressor)],
)
def test_verbose_lines_match_scikit_learn(ours, theirs, case, capsys):
    X, y = _data()
    params = {"hidden_layer_sizes": (6,), "random_state": 0, "verbose": True}
    params.update(CASES[case])
    expected = _verbose_lines(theirs(**params), X, y, capsys)
    got = _verbose_lines(ours(**params, dropout_rate=0.2), X, y, capsys)
    assert expected  # scikit-learn printed something to compare with
    assert got == expected


def test_template_keeps_the_format():
    assert _template("Iteration 12, loss = 0.69314718") == (
        "Iteration <int>, loss = <num.8>"
    )
    assert _template("Validation score: 0.500000") == "Validation score: <num.6>"


def test_silent_by_default(capsys):
    X, y = _data()
    DropoutMLPClassifier(hidden_layer_sizes=(4,), max_iter=3).fit(X, y)
    assert capsys.readouterr().out == ""
