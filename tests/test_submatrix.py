"""Kept submatrices: gathering a group's weights and scattering its gradient
back are fancy indexing and ``np.add.at``, done without temporaries."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from skdrop._core import submatrix as _submatrix
from skdrop._core.submatrix import KeptSubmatrices, rows_of

UNITS = [6, 5, 4]


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    coefs = [rng.standard_normal((a, b)) for a, b in itertools.pairwise(UNITS)]
    intercepts = [rng.standard_normal(b) for b in UNITS[1:]]
    return coefs, intercepts


def _kept(masks):
    return [None if m is None else np.flatnonzero(m) for m in masks]


KEPT_PATTERNS = [
    [[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 1], None],
    [None, [1, 1, 0, 0, 0], None],
    [[0, 0, 0, 0, 0, 1], None, None],
    [None, None, None],
]


@pytest.mark.parametrize("pattern", KEPT_PATTERNS)
def test_gather_is_fancy_indexing(pattern):
    coefs, intercepts = _weights()
    kept = _kept(pattern)
    weights, biases = KeptSubmatrices(UNITS, np.float64).gather(coefs, intercepts, kept)
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        rows = slice(None) if kept[i] is None else kept[i]
        cols = slice(None) if kept[i + 1] is None else kept[i + 1]
        np.testing.assert_array_equal(weights[i], W[rows][:, cols])
        np.testing.assert_array_equal(biases[i], b[cols])


def test_nothing_is_copied_where_every_unit_is_kept():
    coefs, intercepts = _weights()
    weights, biases = KeptSubmatrices(UNITS, np.float64).gather(
        coefs, intercepts, [None, None, None]
    )
    assert all(w is W for w, W in zip(weights, coefs, strict=True))
    assert all(b is c for b, c in zip(biases, intercepts, strict=True))


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("pattern", KEPT_PATTERNS)
def test_scatter_add_is_add_at(pattern, compiled, monkeypatch):
    if not compiled:  # the fallback for a SciPy that moved its private tools
        monkeypatch.setattr(_submatrix, "_csr_add_into_dense", None)
    kept = _kept(pattern)
    rows, cols = kept[0], kept[1]
    n_rows = UNITS[0] if rows is None else rows.size
    n_cols = UNITS[1] if cols is None else cols.size
    sub = np.random.default_rng(1).standard_normal((n_rows, n_cols))
    G = np.ones((UNITS[0], UNITS[1]))
    expected = G.copy()
    all_rows = np.arange(UNITS[0]) if rows is None else rows
    all_cols = np.arange(UNITS[1]) if cols is None else cols
    np.add.at(expected, (all_rows[:, np.newaxis], all_cols), sub)
    KeptSubmatrices(UNITS, np.float64).scatter_add_matrix(G, rows, cols, sub, 0)
    np.testing.assert_allclose(G, expected, rtol=1e-15)


def test_scatter_add_vector_adds_at_the_kept_entries():
    g = np.zeros(5)
    KeptSubmatrices.scatter_add_vector(g, np.array([1, 4]), np.array([2.0, 3.0]))
    KeptSubmatrices.scatter_add_vector(g, None, np.ones(5))
    np.testing.assert_array_equal(g, [1, 3, 1, 1, 4])


@pytest.mark.parametrize("sparse", [False, True])
def test_kept_columns_of_the_input(sparse):
    X = np.arange(18.0).reshape(3, 6)
    kept = np.array([0, 2, 5])
    submatrices = KeptSubmatrices(UNITS, np.float64)
    result = submatrices.kept_columns(sp.csr_matrix(X) if sparse else X, kept)
    result = result.toarray() if sparse else result
    np.testing.assert_array_equal(result, X[:, kept])
    assert submatrices.kept_columns(X, None) is X


def test_rows_of_a_flat_buffer_are_a_contiguous_view():
    flat = np.arange(12.0)
    block = rows_of(flat, 2, 3)
    assert block.shape == (2, 3) and block.flags.c_contiguous
    assert np.shares_memory(block, flat)
    np.testing.assert_array_equal(block, [[0, 1, 2], [3, 4, 5]])
