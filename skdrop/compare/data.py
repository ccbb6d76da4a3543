"""Data for ``python -m skdrop compare``: bundled datasets or a CSV file.

A CSV file is checked column by column before any fit: whatever would make
the preprocessing or a fit fail (infinite values, numbers too large to
standardise, duplicate column names) is a one-line error naming the column.
"""

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sklearn import datasets
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

BUNDLED = {
    "digits": ("classification", datasets.load_digits),
    "breast_cancer": ("classification", datasets.load_breast_cancer),
    "wine": ("classification", datasets.load_wine),
    "iris": ("classification", datasets.load_iris),
    "diabetes": ("regression", datasets.load_diabetes),
}
# An integer target with at most this many distinct values is taken for
# class labels; with more, for a quantity to regress.
MAX_INTEGER_CLASSES = 20


class DataError(ValueError):
    """The data cannot be used for the comparison (reported as a usage error)."""


@dataclass
class Dataset:
    """Features, target and what the comparison needs to know about them."""

    name: str
    X: object
    y: np.ndarray
    task: str
    numeric_columns: list = field(default_factory=list)
    categorical_columns: list = field(default_factory=list)
    task_reason: str = ""
    dropped_columns: list = field(default_factory=list)  # empty in every row

    @property
    def n_inputs(self):
        """Inputs of the network: numeric columns and one-hot categories."""
        if not self.categorical_columns:
            return self.n_features
        categories = sum(self.X[c].nunique() for c in self.categorical_columns)
        return len(self.numeric_columns) + categories

    @property
    def n_rows(self):
        return len(self.y)

    @property
    def n_features(self):
        return self.X.shape[1]

    def describe(self):
        """One line: name, size, kind of columns and the task."""
        parts = [f"{self.n_rows} rows", f"{self.n_features} feature columns"]
        if self.categorical_columns:
            parts.append(f"{len(self.categorical_columns)} of them categorical")
        if self.task == "classification":
            parts.append(f"{len(np.unique(self.y))} classes")
        reason = f" ({self.task_reason})" if self.task_reason else ""
        return f"{self.name}: {', '.join(parts)}; {self.task}{reason}"


def rows_of(X, rows):
    """The rows ``rows`` of ``X``, a NumPy array or a pandas data frame."""
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def make_preprocessor(dataset):
    """A fresh, unfitted transformer of the dataset's feature columns.

    Numeric columns are imputed with their median and standardised;
    categorical ones imputed with their most frequent value and one-hot
    encoded (categories unseen in a training fold become all zeros).
    """
    if not dataset.categorical_columns and not hasattr(dataset.X, "columns"):
        return StandardScaler()
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, dataset.numeric_columns),
            ("categorical", categorical, dataset.categorical_columns),
        ]
    )


def load_bundled(name):
    """A dataset shipped with scikit-learn (nothing is downloaded)."""
    task, loader = BUNDLED[name]
    X, y = loader(return_X_y=True)
    return Dataset(name=name, X=X, y=y, task=task)


def load_csv(path, target, task=None):
    """Read ``path`` and split off the ``target`` column.

    Feature columns empty in every row are dropped (and listed in the
    dataset's ``dropped_columns``): a trailing comma on every line makes one.

    Raises
    ------
    DataError
        If pandas is missing, the file is empty or unreadable, two columns
        share a name, the target column is absent, no feature column is
        left, the target has a single value, a numeric column holds infinite
        values or values too large to standardise.
    """
    try:
        import pandas as pd
    except ImportError as exc:
        raise DataError(
            "--csv needs pandas: pip install pandas (or the test extra: "
            'pip install -e ".[test]")'
        ) from exc
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"--csv {path}: the file is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        message = str(exc).strip().splitlines()[0]
        raise DataError(f"--csv {path}: not a readable CSV file ({message})") from exc
    _check_unique_names(pd, path)
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:20]))
        raise DataError(f"--target {target!r} is not a column of {path}: {columns}")
    frame = frame.dropna(subset=[target])
    if len(frame) == 0:
        raise DataError(f"--csv {path}: no row has a value in column {target!r}")
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError(f"--csv {path}: no feature column besides {target!r}")
    empty = [c for c in features.columns if features[c].isna().all()]
    if len(empty) == features.shape[1]:
        raise DataError(
            f"--csv {path}: every feature column is empty in every row "
            f"({_names(empty)}); nothing to learn {target!r} from"
        )
    features = features.drop(columns=empty)
    for column in features.columns:
        if _is_numeric(features[column]):
            _check_finite(features[column], f"--csv {path}: column {column!r}")
    if _is_numeric(frame[target]):
        _check_finite(frame[target], f"--target {target!r}", standardised=False)
    y = frame[target].to_numpy()
    if len(np.unique(y.astype(str))) < 2:
        raise DataError(
            f"--target {target!r} has a single value ({y[0]!r}): nothing to predict"
        )
    task, reason = _infer_task(frame[target], task)
    numeric = [c for c in features.columns if _is_numeric(features[c])]
    categorical = [c for c in features.columns if c not in numeric]
    for column in categorical:
        # Plain strings (missing values kept) for the imputer and the encoder,
        # which refuse booleans and mixed types.
        values = features[column]
        features[column] = values.astype(str).astype(object).where(values.notna())
    if task == "regression":
        # Standardised by the mean and deviation of each training set.
        _check_finite(frame[target], f"--target {target!r}")
        y = y.astype(float)
    else:
        y = y.astype(str) if not _is_numeric(frame[target]) else y
    return Dataset(
        name=str(path),
        X=features,
        y=y,
        task=task,
        numeric_columns=numeric,
        categorical_columns=categorical,
        task_reason=reason,
        dropped_columns=empty,
    )


def _check_unique_names(pd, path):
    """Refuse a header that names a column twice.

    pandas renames the copies (``y``, ``y.1``): with ``--target y`` the
    second ``y`` would silently become a feature, a copy of the target.
    """
    header = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0]
    counts = Counter(name for name in header if isinstance(name, str))
    repeated = [name for name, count in counts.items() if count > 1]
    if repeated:
        raise DataError(
            f"--csv {path}: the header names {_names(repeated)} more than once; "
            "give every column its own name"
        )


def _check_finite(column, what, standardised=True):
    """Refuse infinite values, and values whose standardisation overflows."""
    values = column.to_numpy(dtype=float)
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:
        raise DataError(
            f"{what} holds infinite values ({infinite.size} of them, the first "
            f"in data row {column.index[infinite[0]] + 1} after the header); "
            "replace them or drop those rows"
        )
    if not standardised:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        spread = np.nanstd(values)
    if not np.isfinite(spread):
        raise DataError(
            f"{what} holds values as large as {np.nanmax(np.abs(values)):.3g}, "
            "too large to standardise (their variance overflows float64); "
            "rescale it"
        )


def _names(columns):
    return ", ".join(repr(str(c)) for c in columns)


def _is_numeric(column):
    """Numbers, to be standardised; booleans count as categories."""
    return column.dtype.kind in "iuf"


def _infer_task(column, task):
    """The task asked for, or the one the target's values suggest."""
    numeric = _is_numeric(column)
    if task == "regression" and not numeric:
        raise DataError(
            f"--task regression needs a numeric target; {column.name!r} holds "
            f"{column.dtype} values"
        )
    if task is not None:
        return task, "set by --task"
    if not numeric:
        return "classification", "target is not numeric"
    values = column.to_numpy(dtype=float)
    n_distinct = len(np.unique(values))
    if np.all(values == np.round(values)) and n_distinct <= MAX_INTEGER_CLASSES:
        return "classification", f"target has {n_distinct} distinct integer values"
    return "regression", "target is numeric with many values"


def check_encoded_size(dataset):
    """Refuse categorical columns whose one-hot encoding cannot fit in memory.

    The encoding is dense, one float64 input per category, and the
    preprocessing holds two copies of it at once (measured: 401 MB for 5000
    rows of 5001 inputs). A column of identifiers, one value per row, is the
    usual cause.
    """
    from .._parameters import _physical_memory

    physical = _physical_memory()
    if physical is None or not dataset.categorical_columns:
        return
    needed = 2 * dataset.n_rows * dataset.n_inputs * np.dtype(np.float64).itemsize
    if needed > physical:
        counts = {c: dataset.X[c].nunique() for c in dataset.categorical_columns}
        widest = max(counts, key=counts.get)
        raise DataError(
            f"column {widest!r} of {dataset.name} has {counts[widest]:,} distinct "
            f"values: one-hot encoding makes {dataset.n_inputs:,} inputs for "
            f"{dataset.n_rows:,} rows, at least {needed / 2**30:,.1f} GiB of "
            f"memory, more than the {physical / 2**30:,.1f} GiB of this machine. "
            "Drop the column (an identifier?) or encode it as numbers."
        )


def check_enough_rows(dataset, folds, inner_folds):
    """Refuse data too small for the folds, naming the option to change."""
    needed = folds * inner_folds
    if dataset.n_rows < 2 * needed:
        raise DataError(
            f"{dataset.name} has {dataset.n_rows} rows; --folds {folds} with "
            f"--inner-folds {inner_folds} needs at least {2 * needed}"
        )
    if dataset.task == "classification":
        labels, counts = np.unique(dataset.y, return_counts=True)
        smallest = int(counts.argmin())
        if counts[smallest] < folds:
            raise DataError(
                f"class {str(labels[smallest])!r} of the target has "
                f"{counts[smallest]} rows; --folds {folds} needs at least "
                f"{folds} per class"
            )
