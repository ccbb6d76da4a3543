"""The flat parameter layout: every weight matrix, then every bias vector."""

import itertools

import numpy as np
import pytest

from skdrop._core.layout import n_layer_params, n_weight_entries, parameter_views

UNITS = [4, 3, 2]


def test_weights_come_first_row_major_then_biases():
    flat = np.arange(n_layer_params(UNITS), dtype=float)
    coefs, intercepts = parameter_views(flat, UNITS)
    np.testing.assert_array_equal(coefs[0], np.arange(12).reshape(4, 3))
    np.testing.assert_array_equal(coefs[1], np.arange(12, 18).reshape(3, 2))
    np.testing.assert_array_equal(intercepts[0], [18, 19, 20])
    np.testing.assert_array_equal(intercepts[1], [21, 22])


def test_views_write_through_to_the_flat_vector():
    flat = np.zeros(n_layer_params(UNITS))
    coefs, intercepts = parameter_views(flat, UNITS)
    coefs[1][2, 1] = 5.0
    intercepts[0][1] = 7.0
    assert flat[17] == 5.0 and flat[19] == 7.0
    assert all(np.shares_memory(v, flat) for v in coefs + intercepts)


@pytest.mark.parametrize("units", [[1, 1], [5, 8, 8, 3], [784, 100, 10]])
def test_counts_match_the_views(units):
    flat = np.zeros(n_layer_params(units) + 2)  # noise parameters after them
    coefs, intercepts = parameter_views(flat, units)
    assert n_weight_entries(units) == sum(W.size for W in coefs)
    assert n_layer_params(units) == n_weight_entries(units) + sum(
        b.size for b in intercepts
    )
    assert [W.shape for W in coefs] == list(itertools.pairwise(units))
