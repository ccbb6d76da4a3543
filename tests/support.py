"""Helpers shared by several test modules (imported as ``support``: pytest
puts this folder on ``sys.path``, as it has no ``__init__.py``).

Fixtures go in ``conftest.py``; these are plain functions and values, for
tests that need them inside generated cases or with arguments of their own.
"""

import atexit
import os
import subprocess
import warnings

import numpy as np
import pytest
from hypothesis import strategies as st

from skdrop import DropoutMLPClassifier
from skdrop.compare.cli import main

# st.text()'s default alphabet, every character UTF-8 encodes (all but the
# surrogates), named by category: for the default, hypothesis tries each of
# the 1.1 million code points with the codec, 2 s of a run on a fresh
# checkout (.hypothesis/ caches the result afterwards).
TEXT_CHARACTERS = st.characters(exclude_categories=["Cs"])


def usage_error(capsys, argv):
    """Run ``python -m skdrop compare`` in-process; return its one error line.

    The run must end with exit code 2 (argparse's usage error), write
    exactly one ``error:`` line, last, and no traceback.
    """
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", *argv])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line for line in lines if "error:" in line] == [lines[-1]], lines
    assert "Traceback" not in "".join(lines)
    return lines[-1]


def start_in_background(command, *, niceness=5, **popen_options):
    """``command`` started now, its output piped as text; ``communicate()``
    waits for it.

    A test module calls this when pytest imports it, so that the run (mostly
    an interpreter starting and importing scikit-learn) overlaps collection
    and the tests before the one that reads the result, on the second core.
    The tests run one at a time on one core, and at ``niceness`` 5 the runs
    in the background give way to them: at the default priority, three of
    them made collection take 12 s instead of 4 on a 2-core machine (at 10,
    on a machine loaded by other work, the runs were still unfinished when
    their tests came). A run that is timed passes ``niceness=0``. A run that
    no test asked for (deselected, ``--collect-only``) is killed at exit.
    """
    # os.nice is POSIX's; elsewhere the runs keep the default priority.
    lowered = niceness and os.name == "posix"
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: os.nice(niceness)) if lowered else None,
        **popen_options,
    )

    def kill_unused():
        if process.poll() is None:
            process.kill()
            process.communicate()

    atexit.register(kill_unused)
    return process


def small_problem(n=40, n_features=3, seed=0):
    """``X`` of ``n`` standard normal rows, two-class labels, and regression
    targets of scale 1e3 (large enough for an absurd learning rate to
    overflow the loss quickly)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y_class = (X[:, 0] + X[:, 1] > 0).astype(int)
    y_reg = X @ np.arange(1.0, n_features + 1) * 1e3
    return X, y_class, y_reg


def weights_of(estimator):
    """Copies of the fitted weight matrices and bias vectors, in that order."""
    return [w.copy() for w in estimator.coefs_ + estimator.intercepts_]


def assert_same_weights(a, b):
    """Two lists of arrays (from :func:`weights_of`) are equal bit for bit."""
    assert len(a) == len(b)
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)


def quietly(call, *args, **kwargs):
    """``call(*args, **kwargs)`` with warnings silenced: the tests that use it
    train for a few epochs on purpose and check results, not warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


def clean_X(n_rows, n_features, seed=0):
    """Standard normal features without any fault."""
    return np.random.default_rng(seed).normal(size=(n_rows, n_features))


def assert_predictions_valid(estimator, X_test):
    """Every prediction method gives finite output of the documented shape."""
    n_rows = X_test.shape[0]
    y_pred = estimator.predict(X_test)
    assert y_pred.shape[0] == n_rows
    if isinstance(estimator, DropoutMLPClassifier):
        assert set(np.unique(y_pred)).issubset(
            set(np.ravel(estimator.classes_)) | {0, 1}
        )
        if estimator._label_binarizer.y_type_.startswith("multilabel"):
            n_columns = estimator.n_outputs_
        else:
            n_columns = len(estimator.classes_)
            assert y_pred.dtype == estimator.classes_.dtype
        proba = estimator.predict_proba(X_test)
        assert proba.shape == (n_rows, n_columns)
        assert proba.dtype == estimator.coefs_[0].dtype
        assert np.isfinite(proba).all()
        assert ((proba >= 0) & (proba <= 1)).all()
        if not estimator._label_binarizer.y_type_.startswith("multilabel"):
            np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
        log_proba = estimator.predict_log_proba(X_test)
        assert log_proba.shape == proba.shape
        assert np.isfinite(log_proba).all() and (log_proba <= 0).all()
        samples = estimator.predict_samples(X_test, n_samples=3, random_state=0)
        assert samples.shape == (3, n_rows, n_columns)
    else:
        assert np.issubdtype(y_pred.dtype, np.floating)
        assert np.isfinite(y_pred).all()
        expected_shape = (n_rows,) if estimator.n_outputs_ == 1 else (n_rows, 2)
        assert y_pred.shape == expected_shape
        mean, std = estimator.predict(X_test, return_std=True)
        assert mean.shape == std.shape == expected_shape
        assert np.isfinite(mean).all() and (std >= 0).all()
        samples = estimator.predict_samples(X_test, n_samples=3, random_state=0)
        assert samples.shape == (3, *expected_shape)
    assert np.isfinite(samples).all()


def run_estimator_check(estimator, check, request):
    """Run one of scikit-learn's estimator checks; an expected failure (the
    test's xfail mark) is reported without its traceback.

    pytest rendered the traceback through scikit-learn's checks in 0.2-0.4 s,
    ten times the check's own time, for a report that ``-rfEsX`` does not
    show. A check that passes returns and shows as XPASS, as with the mark
    alone.
    """
    expected_failure = request.node.get_closest_marker("xfail")
    if expected_failure is None:
        check(estimator)
        return
    try:
        check(estimator)
    except AssertionError:
        pytest.xfail(expected_failure.kwargs["reason"])


def fresh_registry(monkeypatch, module, name, base):
    """Give a kind of part an empty registry for one test, so that the parts
    the test defines do not stay registered (``module.name`` is the
    registry's public name, ``base`` the kind's base class)."""
    fresh = {}
    monkeypatch.setattr(module, name, fresh)
    monkeypatch.setattr(base, "registry", fresh)
    return fresh
