"""skdrop.uncertainty: the entropy decomposition of Monte Carlo samples and
the validation of its input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skdrop.uncertainty import (
    expected_entropy,
    mutual_information,
    predictive_entropy,
)

HELPERS = (predictive_entropy, expected_entropy, mutual_information)
shapes = st.tuples(
    st.integers(1, 6), st.integers(1, 5), st.integers(2, 6)
)  # (n_samples, n_rows, n_classes)


def _distributions(shape, seed):
    return np.random.default_rng(seed).dirichlet(np.ones(shape[-1]), size=shape[:-1])


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_total_uncertainty_splits_into_aleatoric_and_epistemic(shape, seed):
    samples = _distributions(shape, seed)
    total = predictive_entropy(samples)
    aleatoric = expected_entropy(samples)
    epistemic = mutual_information(samples)
    assert total.shape == aleatoric.shape == epistemic.shape == (shape[1],)
    np.testing.assert_allclose(total, aleatoric + epistemic, atol=1e-12)
    assert np.all(epistemic >= 0)
    assert np.all(total <= np.log(shape[-1]) + 1e-12)


@settings(max_examples=40, deadline=None)
@given(
    shape=shapes,
    seed=st.integers(0, 2**32 - 1),
    shift=st.floats(1e-3, 0.5) | st.floats(-0.5, -1e-3),
)
@pytest.mark.parametrize("helper", HELPERS)
def test_rows_that_are_not_distributions_are_refused(helper, shape, seed, shift):
    samples = _distributions(shape, seed) * (1 + shift)
    samples = np.clip(samples, 0, 1)
    if np.allclose(samples.sum(axis=-1), 1, atol=1e-4):
        return  # clipping restored a distribution
    with pytest.raises(ValueError, match="summing to 1"):
        helper(samples)
    # The same numbers are valid as independent binary labels.
    assert helper(samples, multilabel=True).shape == (shape[1],)


@pytest.mark.parametrize("helper", HELPERS)
@pytest.mark.parametrize(
    ("samples", "error", "message"),
    [
        (np.empty((0, 3, 2)), ValueError, "at least one Monte Carlo sample"),
        (np.empty((2, 3, 0)), ValueError, "at least one Monte Carlo sample"),
        (np.full((2, 1, 2), 0.5 + 0j), TypeError, "real numbers"),
        (np.array([[["0.5", "0.5"]]]), TypeError, "real numbers"),
        (np.full((2, 2), 0.5), ValueError, "shape"),
        (np.array([[[1.5, -0.5]]]), ValueError, r"\[0, 1\]"),
        (np.array([[[np.nan, 1.0]]]), ValueError, r"\[0, 1\]"),
    ],
)
def test_invalid_samples_get_an_error_that_names_them(helper, samples, error, message):
    with pytest.raises(error, match=message):
        helper(samples)


@pytest.mark.parametrize("helper", HELPERS)
def test_input_is_not_modified(helper):
    samples = _distributions((4, 3, 3), 0).astype(np.float32)
    copy = samples.copy()
    helper(samples)
    np.testing.assert_array_equal(samples, copy)
