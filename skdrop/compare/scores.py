"""What a fitted candidate of ``python -m skdrop compare`` scores.

The tuning loss that picks a candidate, the scores on the test fold, and
for classification the scores after temperature scaling (scikit-learn's
``CalibratedClassifierCV``, fitted on the inner folds' out-of-fold
probabilities), with skdrop's Monte Carlo averaged probabilities beside
them. :mod:`skdrop.compare.run` decides what is fitted on which rows; this
module only scores what it is given.
"""

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss, mean_squared_error, r2_score
from sklearn.model_selection import KFold

from .data import rows_of
from .stats import (
    brier_score,
    expected_calibration_error,
    gaussian_log_likelihood,
    interval_coverage,
)


def tuning_loss(fitted, X, y, task, n_classes):
    """Validation loss that picks a candidate (lower is better)."""
    if task == "classification":
        proba = fitted.proba(X, n_classes)
        return log_loss(y, proba, labels=np.arange(n_classes))
    return mean_squared_error(y, fitted.predict(X))


def scores_on_test_fold(fitted, X, y, task, n_classes):
    """Prediction time and the test scores of ``METRICS`` for one model.

    Parameters
    ----------
    fitted : skdrop.compare.run._Fitted
        The model fitted on the outer training set.
    X, y : array-like
        The test fold; ``y`` holds class indices for classification.
    task : {'classification', 'regression'}
    n_classes : int
        Number of classes of the whole data set (ignored for regression).

    Returns
    -------
    scores : dict
        ``predict_seconds`` and the scores; for a regressor with
        ``predict_samples``, the Gaussian log-likelihood and 95 % coverage.
    """
    start = time.perf_counter()
    if task == "classification":
        proba = fitted.proba(X, n_classes)
        seconds = time.perf_counter() - start
        return {"predict_seconds": seconds, **probability_scores(y, proba)}
    prediction = fitted.predict(X)
    scores = {
        "predict_seconds": time.perf_counter() - start,
        "r2": float(r2_score(y, prediction)),
        "rmse": float(mean_squared_error(y, prediction) ** 0.5),
    }
    if hasattr(fitted.model[-1], "predict_samples"):
        mean, std = fitted.predict(X, return_std=True)
        scores["log_likelihood"] = gaussian_log_likelihood(y, mean, std)
        scores["coverage_95"] = interval_coverage(y, mean, std)
    return scores


def probability_scores(y, proba):
    """Accuracy, log loss, Brier score and ECE of class probabilities."""
    return {
        "accuracy": float(np.mean(proba.argmax(axis=1) == y)),
        "log_loss": float(log_loss(y, proba, labels=np.arange(proba.shape[1]))),
        "brier": brier_score(y, proba),
        "ece": expected_calibration_error(y, proba),
    }


def calibrated_scores(fitted, inner, train, test, n_classes, seed):
    """Scores after temperature scaling; for skdrop, of Monte Carlo averages too.

    The temperature is fitted on out-of-fold probabilities of the outer
    training set, those of the inner search's fits of the same value, and
    applied to the outer model's probabilities on the test fold: what
    ``CalibratedClassifierCV(model, method="temperature", cv=<inner folds>,
    ensemble=False)`` computes, without refitting those models.

    Parameters
    ----------
    fitted : skdrop.compare.run._Fitted
        The model fitted on the outer training set.
    inner : list of (skdrop.compare.run._Fitted, ndarray)
        The inner fits of the same value and the training rows each predicts.
    train, test : tuple of (X, y)
        The outer training set and test fold.
    n_classes : int
        Number of classes of the whole data set.
    seed : int
        Seeds the Monte Carlo passes.

    Returns
    -------
    scores : dict
        Keys as in ``PROBABILITY_VARIANTS``: ``ts_*`` (log loss, Brier score,
        ECE and the fitted temperature), and for skdrop ``mc_*`` (accuracy,
        log loss, Brier score, ECE) and ``mc_ts_*``. Temperature scaling does
        not change the most probable class, hence no ``ts_accuracy``.
    """
    (X_train, y_train), (X_test, y_test) = train, test
    ways = {"": lambda model, X, k: model.proba(X, k)}
    if hasattr(fitted.model[-1], "predict_samples"):
        ways["mc_"] = lambda model, X, k: model.mc_proba(X, k, seed)
    scores = {}
    for prefix, proba_of in ways.items():
        out_of_fold = np.zeros((len(y_train), n_classes))
        for model, rows in inner:
            out_of_fold[rows] = proba_of(model, rows_of(X_train, rows), n_classes)
        proba = proba_of(fitted, X_test, n_classes)
        if prefix:
            scores |= {
                prefix + key: value
                for key, value in probability_scores(y_test, proba).items()
            }
        scaled, temperature = temperature_scaled(out_of_fold, y_train, proba)
        scaled_scores = probability_scores(y_test, scaled)
        del scaled_scores["accuracy"]
        scores |= {f"{prefix}ts_{key}": v for key, v in scaled_scores.items()}
        scores[f"{prefix}ts_temperature"] = temperature
    return scores


class _GivenProbabilities(ClassifierMixin, BaseEstimator):
    """A classifier whose input is its output: rows of class probabilities.

    Lets scikit-learn's ``CalibratedClassifierCV`` fit a temperature to
    probabilities computed elsewhere (out of fold, or averaged over Monte
    Carlo passes).
    """

    def fit(self, X, y):
        self.classes_ = np.arange(np.shape(X)[1])
        return self

    def predict_proba(self, X):
        return np.asarray(X, dtype=float)

    def predict(self, X):
        return self.classes_[np.argmax(X, axis=1)]


def temperature_scaled(calibration_proba, y, proba):
    """Temperature scaling by ``CalibratedClassifierCV(method="temperature")``.

    Parameters
    ----------
    calibration_proba : ndarray of shape (n_rows, n_classes)
        Probabilities of rows the model did not train on, columns ordered by
        class index.
    y : ndarray of shape (n_rows,)
        Their class indices.
    proba : ndarray of shape (n_new, n_classes)
        Probabilities to rescale.

    Returns
    -------
    scaled : ndarray of shape (n_new, n_classes)
        ``softmax(log(proba) / T)`` over the classes seen in ``y`` (the other
        columns stay 0, as the model, which never saw them, gives them).
    temperature : float
        The fitted ``T``; above 1 the model was overconfident. 1 when ``y``
        holds a single class.
    """
    seen = np.unique(y)
    if len(seen) < 2:
        return proba, 1.0

    def renormalised(p):
        p = p[:, seen]
        return p / p.sum(axis=1, keepdims=True)

    calibration_proba = renormalised(calibration_proba)
    given = FrozenEstimator(_GivenProbabilities().fit(calibration_proba, y))
    # The estimator is frozen: the folds only split the rows whose given
    # probabilities are collected, and 2 folds accept any class counts.
    calibrator = CalibratedClassifierCV(given, method="temperature", cv=KFold(2))
    calibrator.fit(calibration_proba, np.searchsorted(seen, y))
    scaled = np.zeros_like(proba, dtype=float)
    scaled[:, seen] = calibrator.predict_proba(renormalised(proba))
    (calibrated,) = calibrator.calibrated_classifiers_
    return scaled, 1.0 / float(calibrated.calibrators[0].beta_)
