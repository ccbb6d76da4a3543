"""Scores and intervals for ``python -m skdrop compare``.

The scores of repeated cross-validation are not independent: the training
sets of different splits overlap, so the ordinary t interval over the splits
is far too narrow. The corrected resampled t-test (Nadeau and Bengio, 2003,
"Inference for the generalization error", Machine Learning 52) inflates the
variance of the mean by ``1/J + n_test/n_train`` instead of ``1/J``, where
``J`` is the number of train/test splits.
"""

from dataclasses import dataclass

import numpy as np
from scipy import stats

# Equal-width bins of the top-class probability for the calibration error.
CALIBRATION_BINS = 15
# Two-sided coverage of the Gaussian interval mean +- 1.96 std.
NORMAL_95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Interval:
    """A mean over resampled splits with its corrected confidence interval."""

    mean: float
    low: float
    high: float
    p_value: float

    def contains(self, value):
        """Whether ``value`` lies in the closed interval."""
        return self.low <= value <= self.high


def corrected_interval(values, test_train_ratio, confidence=0.95):
    """Mean of per-split values with the Nadeau-Bengio corrected t interval.

    Parameters
    ----------
    values : array-like of shape (n_splits,)
        One score (or one paired difference of scores) per train/test split.
    test_train_ratio : float
        Rows in a test fold divided by rows in its training fold (the mean
        over the splits when they differ by a row).
    confidence : float, default=0.95
        Coverage of the two-sided interval.

    Returns
    -------
    interval : Interval
        The mean, the interval ``mean +- t * sqrt((1/J + ratio) * s^2)``
        with ``t`` the quantile of Student's t with ``J - 1`` degrees of
        freedom, and the two-sided p-value of the hypothesis "mean = 0".
    """
    values = np.asarray(values, dtype=float)
    n_splits = values.size
    if n_splits < 2:
        raise ValueError(f"values needs at least 2 splits, got {n_splits}.")
    mean = float(values.mean())
    variance = float(values.var(ddof=1))
    std_error = np.sqrt((1.0 / n_splits + test_train_ratio) * variance)
    degrees = n_splits - 1
    if std_error == 0.0:
        # Every split agrees: the interval is the point, and any nonzero mean
        # is as certain as the data can make it.
        return Interval(mean, mean, mean, 1.0 if mean == 0.0 else 0.0)
    half_width = float(stats.t.ppf(0.5 + confidence / 2, degrees)) * std_error
    p_value = float(2 * stats.t.sf(abs(mean) / std_error, degrees))
    return Interval(mean, mean - half_width, mean + half_width, p_value)


def brier_score(y_index, proba):
    """Mean squared distance between probability vectors and one-hot labels.

    Ranges from 0 (certain and right) to 2 (certain and wrong), for any
    number of classes.
    """
    one_hot = np.zeros_like(proba)
    one_hot[np.arange(len(y_index)), y_index] = 1.0
    return float(np.mean(np.sum((proba - one_hot) ** 2, axis=1)))


def expected_calibration_error(y_index, proba, n_bins=CALIBRATION_BINS):
    """Gap between confidence and accuracy, averaged over confidence bins.

    The top-class probability of each row falls into one of ``n_bins``
    equal-width bins of [0, 1]; each bin contributes ``|accuracy - mean
    confidence|`` weighted by its share of the rows.
    """
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_index
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        gap = abs(correct[in_bin].mean() - confidence[in_bin].mean())
        error += in_bin.mean() * gap
    return float(error)


def gaussian_log_likelihood(y, mean, std):
    """Mean log density of ``y`` under independent N(mean, std**2)."""
    z = (y - mean) / std
    return float(np.mean(-0.5 * np.log(2 * np.pi) - np.log(std) - 0.5 * z**2))


def interval_coverage(y, mean, std):
    """Share of ``y`` inside the central 95 % Gaussian interval."""
    return float(np.mean(np.abs(y - mean) <= NORMAL_95 * std))
