"""Statistics of the comparison: the corrected resampled t-test and scores."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from skdrop.compare.stats import (
    brier_score,
    corrected_interval,
    expected_calibration_error,
    gaussian_log_likelihood,
    interval_coverage,
)


def test_corrected_interval_matches_a_hand_computation():
    # Ten paired differences from 5 x 2-fold CV (test/train ratio 1).
    d = [0.01, 0.03, -0.02, 0.04, 0.00, 0.02, 0.01, 0.05, -0.01, 0.02]
    mean = sum(d) / 10  # 0.015
    variance = sum((x - mean) ** 2 for x in d) / 9
    std_error = math.sqrt((1 / 10 + 1.0) * variance)
    t_975_9df = 2.2621571627409915
    interval = corrected_interval(d, test_train_ratio=1.0)
    assert interval.mean == pytest.approx(0.015)
    assert interval.low == pytest.approx(mean - t_975_9df * std_error)
    assert interval.high == pytest.approx(mean + t_975_9df * std_error)
    t_statistic = mean / std_error
    assert interval.p_value == pytest.approx(2 * stats.t.sf(t_statistic, 9))


def test_correction_widens_the_naive_interval():
    d = np.array([0.2, 0.1, 0.3, 0.25, 0.15, 0.2])
    naive = corrected_interval(d, test_train_ratio=0.0)
    corrected = corrected_interval(d, test_train_ratio=0.5)
    ratio = (corrected.high - corrected.mean) / (naive.high - naive.mean)
    assert ratio == pytest.approx(math.sqrt((1 / 6 + 0.5) / (1 / 6)))


@settings(max_examples=60)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=30),
    st.floats(0.0, 2.0),
)
def test_interval_contains_the_mean(values, ratio):
    interval = corrected_interval(values, ratio)
    assert interval.low <= interval.mean <= interval.high
    assert interval.contains(interval.mean)
    assert 0.0 <= interval.p_value <= 1.0


def test_constant_differences_give_a_point_interval():
    interval = corrected_interval([0.5, 0.5, 0.5], 1.0)
    assert (interval.low, interval.high, interval.p_value) == (0.5, 0.5, 0.0)
    assert corrected_interval([0.0, 0.0], 1.0).p_value == 1.0


def test_one_split_is_refused():
    with pytest.raises(ValueError, match="at least 2 splits"):
        corrected_interval([0.1], 1.0)


def test_brier_score_ranges_from_0_to_2():
    y = np.array([0, 2])
    certain_right = np.array([[1.0, 0, 0], [0, 0, 1.0]])
    certain_wrong = np.array([[0, 1.0, 0], [1.0, 0, 0]])
    assert brier_score(y, certain_right) == 0.0
    assert brier_score(y, certain_wrong) == 2.0
    uniform = np.full((2, 3), 1 / 3)
    assert brier_score(y, uniform) == pytest.approx(4 / 9 + 1 / 9 + 1 / 9)


def test_expected_calibration_error():
    # Confidence 0.8 everywhere, right on 3 rows of 4: gap 0.05.
    proba = np.tile([0.8, 0.2], (4, 1))
    y = np.array([0, 0, 0, 1])
    assert expected_calibration_error(y, proba) == pytest.approx(0.05)
    # Two bins: confidence 0.9 right twice (gap 0.1), 0.6 wrong twice (0.6).
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    y = np.array([0, 0, 1, 1])
    assert expected_calibration_error(y, proba) == pytest.approx(0.5 * 0.1 + 0.5 * 0.6)


def test_gaussian_scores():
    y = np.array([0.0, 1.0, 5.0])
    mean, std = np.zeros(3), np.ones(3)
    expected = np.mean(stats.norm.logpdf(y))
    assert gaussian_log_likelihood(y, mean, std) == pytest.approx(expected)
    assert interval_coverage(y, mean, std) == pytest.approx(2 / 3)
