"""The comparison behind ``python -m skdrop compare``.

Repeated K-fold cross-validation (the outer loop) scores four models on the
same train/test splits: scikit-learn's MLP and skdrop's dropout MLP at their
defaults, and both tuned with the same budget by an inner K-fold search on
each outer training set (scikit-learn over ``alpha``, skdrop over
``dropout_rate``, the same number of candidates and folds). Each model is a
pipeline of the dataset's preprocessing and the network. For classification
the models are also scored after temperature scaling (scikit-learn's
``CalibratedClassifierCV``, fitted on the inner folds' out-of-fold
probabilities), and skdrop's Monte Carlo averaged probabilities with them.

Regression targets are standardised by hand (the mean and standard
deviation of each training set) rather than with
``TransformedTargetRegressor``: that wrapper does not pass
``return_std=True`` to the regressor, which the uncertainty scores need.
"""

import re
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import (
    KFold,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedKFold,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from threadpoolctl import threadpool_info, threadpool_limits

from .. import DropoutMLPClassifier, DropoutMLPRegressor
from ..pipeline import pipeline_predict_samples
from .data import make_preprocessor, rows_of
from .scores import calibrated_scores, scores_on_test_fold, tuning_loss

# (key, label, direction): +1 higher is better, -1 lower is better, 0 neither
# (coverage should be near 95 %). The first metric is the headline one.
METRICS = {
    "classification": (
        ("accuracy", "accuracy", 1),
        ("log_loss", "log loss", -1),
        ("brier", "Brier score", -1),
        ("ece", "ECE", -1),
    ),
    "regression": (
        ("r2", "R²", 1),
        ("rmse", "RMSE", -1),
        ("log_likelihood", "log-likelihood", 1),
        ("coverage_95", "95 % coverage", 0),
    ),
}
TIMES = (("fit_seconds", "fit s"), ("predict_seconds", "predict s"))
# Classification: probabilities scored again after temperature scaling, and
# skdrop's Monte Carlo averaged ones. (key prefix, label, families): the
# prefix names the scores in each split's results, e.g. "mc_ts_log_loss".
PROBABILITY_VARIANTS = (
    ("ts_", "temperature-scaled", ("sklearn", "skdrop")),
    ("mc_", "Monte Carlo averaged", ("skdrop",)),
    ("mc_ts_", "Monte Carlo averaged, temperature-scaled", ("skdrop",)),
)
# Passes averaged for the Monte Carlo probabilities.
MC_SAMPLES = 30
TUNING_SCORE = {"classification": "log loss", "regression": "mean squared error"}
# What scikit-learn's MLP and skdrop's estimators warn when Ctrl-C ends the
# training loop of an 'sgd' or 'adam' fit.
INTERRUPTED = "Training interrupted by user."


@dataclass(frozen=True)
class Family:
    """One kind of network and the parameter its tuning searches."""

    key: str
    label: str
    estimator: type
    param: str
    grid: tuple

    @property
    def default(self):
        return self.estimator().get_params()[self.param]

    @property
    def values(self):
        """Grid values in order, then the default if the grid lacks it."""
        extra = () if self.default in self.grid else (self.default,)
        return self.grid + extra


@dataclass(frozen=True)
class Settings:
    """What the command line fixed: model size, budget, seeds, workers."""

    task: str
    hidden: tuple
    max_iter: int
    seed: int
    repeats: int
    folds: int
    inner_folds: int
    n_jobs: int
    alpha_grid: tuple
    dropout_grid: tuple
    curves: bool = False
    n_jobs_requested: int | None = None  # --n-jobs before the cap

    @property
    def families(self):
        if self.task == "classification":
            estimators = (MLPClassifier, DropoutMLPClassifier)
        else:
            estimators = (MLPRegressor, DropoutMLPRegressor)
        return (
            Family(
                "sklearn",
                f"sklearn {estimators[0].__name__}",
                estimators[0],
                "alpha",
                self.alpha_grid,
            ),
            Family(
                "skdrop",
                f"skdrop {estimators[1].__name__}",
                estimators[1],
                "dropout_rate",
                self.dropout_grid,
            ),
        )

    def outer_splits(self, X, y):
        kind = (
            RepeatedStratifiedKFold if self.task == "classification" else RepeatedKFold
        )
        splitter = kind(
            n_splits=self.folds, n_repeats=self.repeats, random_state=self.seed
        )
        return list(splitter.split(X, y))

    def inner_splits(self, X, y):
        kind = StratifiedKFold if self.task == "classification" else KFold
        splitter = kind(n_splits=self.inner_folds, shuffle=True, random_state=self.seed)
        return list(splitter.split(X, y))


def run_comparison(dataset, settings, show_progress=False):
    """Tune and test both families on every outer split.

    Returns
    -------
    per_split : list of dict
        For each outer split and family: the inner search's scores and
        choice, and the test-fold scores of every candidate value.
    test_train_ratio : float
        Mean test-fold size over training-fold size, for the intervals.
    """
    y = dataset.y
    if settings.task == "classification":
        y = LabelEncoder().fit_transform(y)
    splits = settings.outer_splits(dataset.X, y)
    ratio = float(np.mean([len(test) / len(train) for train, test in splits]))
    jobs = (
        delayed(_outer_split)(index, dataset, y, train, test, settings)
        for index, (train, test) in enumerate(splits)
    )
    parallel = Parallel(n_jobs=settings.n_jobs, return_as="generator_unordered")
    results = [None] * len(splits)
    with _progress_bar(len(splits), show_progress) as advance:
        for index, result in parallel(jobs):
            results[index] = result
            advance()
    return results, ratio


@contextmanager
def _progress_bar(total, enabled):
    """A rich progress bar on stderr, or nothing if disabled or unavailable."""
    if enabled:
        try:
            from rich.console import Console
            from rich.progress import Progress
        except ImportError:
            enabled = False
    if not enabled:
        yield lambda: None
        return
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("cross-validation splits", total=total)
        yield lambda: progress.advance(task)


def _outer_split(index, dataset, y, train, test, settings):
    """Tune and test both families on one outer split, with one BLAS thread.

    One BLAS thread per worker: the matrices are small, the workers already
    use the cores, and a multi-threaded BLAS on busy cores is many times
    slower (figures in docs/compare.rst).
    """
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        # Counted instead (see max_iter_reached in the report).
        warnings.simplefilter("ignore", ConvergenceWarning)
        # Classes smaller than the inner folds: stratification warns, and the
        # scores give every class a column whether a fold saw it or not.
        warnings.filterwarnings(
            "ignore", "The least populated class", category=UserWarning
        )
        result = {
            family.key: _evaluate_family(family, dataset, y, train, test, settings)
            for family in settings.families
        }
        # Recorded so that the report shows the limit held in every worker.
        result["blas_threads"] = max(
            (
                pool["num_threads"]
                for pool in threadpool_info()
                if pool["user_api"] == "blas"
            ),
            default=0,
        )
    return index, result


def _evaluate_family(family, dataset, y, train, test, settings):
    X_train, y_train = rows_of(dataset.X, train), y[train]
    n_classes = int(y.max()) + 1 if settings.task == "classification" else 0
    calibrate = settings.task == "classification"
    # Temperature scaling needs the default's out-of-fold predictions too.
    candidates = family.values if calibrate else family.grid
    n_grid = len(family.grid)
    inner_scores = np.zeros((len(candidates), settings.inner_folds))
    inner_models = {value: [] for value in candidates}  # (fitted, val_rows)
    search_seconds = 0.0
    reached = []  # per fit: whether it stopped at max_iter, not converged
    learned_rates = []  # hidden rates of every fit with dropout_rate='auto'
    for fold, (fit_rows, val_rows) in enumerate(
        settings.inner_splits(X_train, y_train)
    ):
        X_val, y_val = rows_of(X_train, val_rows), y_train[val_rows]
        for g, value in enumerate(candidates):
            fitted, seconds = _fit(
                family,
                value,
                dataset,
                settings,
                rows_of(X_train, fit_rows),
                y_train[fit_rows],
            )
            search_seconds += seconds if g < n_grid else 0.0
            reached.append(fitted.reached_max_iter)
            if value == "auto":
                learned_rates.append(fitted.model[-1].dropout_rates_.tolist())
            inner_scores[g, fold] = tuning_loss(
                fitted, X_val, y_val, settings.task, n_classes
            )
            if calibrate:
                inner_models[value].append((fitted, val_rows))
    inner_scores = inner_scores[:n_grid]
    chosen = family.grid[int(inner_scores.mean(axis=1).argmin())]
    X_test, y_test = rows_of(dataset.X, test), y[test]
    # Every candidate on the test fold only for the curves; the table needs
    # the default and the chosen value.
    values = family.values if settings.curves else {family.default, chosen}
    outer = {}
    for value in values:
        fitted, seconds = _fit(family, value, dataset, settings, X_train, y_train)
        scores = scores_on_test_fold(fitted, X_test, y_test, settings.task, n_classes)
        if calibrate and value in (family.default, chosen):
            scores |= calibrated_scores(
                fitted,
                inner_models[value],
                (X_train, y_train),
                (X_test, y_test),
                n_classes,
                settings.seed,
            )
        outer[value] = {"fit_seconds": seconds, **scores}
        reached.append(fitted.reached_max_iter)
    search_seconds += outer[chosen]["fit_seconds"]
    return {
        "learned_rates": learned_rates,
        "max_iter_reached": [int(sum(reached)), len(reached)],
        "inner_loss": inner_scores.mean(axis=1).tolist(),
        "chosen": chosen,
        "search_seconds": search_seconds,
        "outer": outer,
    }


class _Fitted:
    """A fitted pipeline and the standardisation of its regression target."""

    def __init__(self, model, y_shift=0.0, y_scale=1.0):
        self.model, self.y_shift, self.y_scale = model, y_shift, y_scale

    @property
    def reached_max_iter(self):
        network = self.model[-1]
        return network.n_iter_ >= network.max_iter

    def predict(self, X, **params):
        output = self.model.predict(X, **params)
        if isinstance(output, tuple):
            mean, std = output
            return mean * self.y_scale + self.y_shift, std * self.y_scale
        return output * self.y_scale + self.y_shift

    def proba(self, X, n_classes):
        """Probabilities with a column for every class, seen in training or not."""
        proba = np.zeros((X.shape[0], n_classes))
        proba[:, self.model.classes_] = self.model.predict_proba(X)
        return proba

    def mc_proba(self, X, n_classes, seed):
        """``proba`` averaged over Monte Carlo dropout passes (skdrop only)."""
        samples = pipeline_predict_samples(
            self.model, X, n_samples=MC_SAMPLES, random_state=seed
        )
        proba = np.zeros((X.shape[0], n_classes))
        proba[:, self.model.classes_] = samples.mean(axis=0)
        return proba


def _fit(family, value, dataset, settings, X, y):
    estimator = family.estimator(
        hidden_layer_sizes=settings.hidden,
        max_iter=settings.max_iter,
        random_state=settings.seed,
        **{family.param: value},
    )
    model = Pipeline([("preprocess", make_preprocessor(dataset)), ("mlp", estimator)])
    start = time.perf_counter()
    with _interrupt_stops_the_job():
        if settings.task == "classification":
            model.fit(X, y)
            fitted = _Fitted(model)
        else:
            shift, scale = float(y.mean()), float(y.std()) or 1.0
            model.fit(X, (y - shift) / scale)
            fitted = _Fitted(model, shift, scale)
    return fitted, time.perf_counter() - start


@contextmanager
def _interrupt_stops_the_job():
    """Make Ctrl-C during a fit stop the job, not just the fit.

    Both libraries catch KeyboardInterrupt in their training loop, keep the
    model trained so far and warn (scikit-learn's convention for a fit at an
    interactive prompt). Here that would finish the job on an interrupted
    fit and report it as complete, so the warning becomes an error and the
    interrupt is raised again.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "error", message=re.escape(INTERRUPTED), category=UserWarning
        )
        try:
            yield
        except UserWarning as exc:
            if str(exc) != INTERRUPTED:
                raise
            raise KeyboardInterrupt from exc


def check_memory(dataset, settings):
    """Refuse networks whose fit cannot fit in this machine's memory.

    Asks skdrop's estimator, which makes the same check in ``fit``, with the
    layer sizes the data will give: one input per numeric column and per
    category of a one-hot encoded column.

    Raises
    ------
    ValueError
        Naming the layer sizes and the memory a fit would need.
    """
    estimator = settings.families[1].estimator(hidden_layer_sizes=settings.hidden)
    if settings.task == "classification":
        n_classes = len(np.unique(dataset.y))
        n_outputs = n_classes if n_classes > 2 else 1
    else:
        n_outputs = 1
    layer_units = [dataset.n_inputs, *settings.hidden, n_outputs]
    estimator._check_network_size(
        layer_units, np.float64, estimator._rows_per_step(dataset.n_rows)
    )


def progress_wanted(quiet):
    """Draw a progress bar only for a person watching a terminal."""
    return not quiet and sys.stderr.isatty()
