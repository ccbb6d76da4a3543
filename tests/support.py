"""Helpers shared by several test modules (imported as ``support``: pytest
puts this folder on ``sys.path``, as it has no ``__init__.py``).

Fixtures go in ``conftest.py``; these are plain functions, for tests that
need them inside generated cases or with arguments of their own.
"""

import warnings

import numpy as np


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
