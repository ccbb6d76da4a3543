"""Data validation of the estimators beyond scikit-learn's ``validate_data``.

Dates and durations in ``X``, numbers too large for float64, a sparse ``y``
for regression, and sample weights so small that ``1 / sum`` overflows or
the penalty drowns the data are refused or made safe here, before any data
reach the NumPy core. The estimators' label and target helpers live here
too: :func:`checked_labels`, :func:`target_type`,
:func:`indicator_columns` and :func:`check_continued_labels` for the
classifier, :func:`numeric_targets` for the regressor.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_regressor
from sklearn.utils import assert_all_finite
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, validate_data

# Above this factor alpha / max(sample_weight), the penalty's gradient on
# weights of order one exceeds the data loss's (a weighted mean, of order
# one) by more than 1 / float64 epsilon: the data cannot move the weights.
# alpha=1e-4 reaches it with weights below about 2e-20.
PENALTY_DROWNS_DATA = 1 / np.finfo(np.float64).eps


def normalized_sample_weight(sample_weight, X):
    """Validated sample weights divided by their largest, in X's dtype.

    The losses are weighted means, which a common factor does not change;
    dividing by the largest weight keeps tiny weights (``1e-320``) from
    overflowing ``1 / sum`` or rounding to 0 in float32. Returns the weights
    (or ``None``) and the factor they were divided by.
    """
    if sample_weight is None:
        return None, 1.0
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    scale = float(sample_weight.max())
    return (sample_weight / scale).astype(X.dtype, copy=False), scale


def penalty_on_normalized_weights(alpha, weight_scale):
    """``alpha`` such that ``alpha / sum(w / scale)`` is ``alpha / sum(w)``."""
    if not alpha:
        return 0.0
    adjusted = alpha / weight_scale
    if not np.isfinite(adjusted):
        raise ValueError(
            f"The L2 penalty alpha / sum(sample_weight) overflows: alpha={alpha} "
            f"with sample weights of at most {weight_scale:.3g}. Scale the "
            "sample weights up (the fit does not depend on their scale "
            "otherwise) or set alpha=0."
        )
    if weight_scale < 1 and adjusted > PENALTY_DROWNS_DATA:
        raise ValueError(
            f"sample_weight of at most {weight_scale:.3g} makes the L2 penalty "
            f"alpha / sum(sample_weight) too strong to train: alpha={alpha} "
            f"divided by the largest weight is {adjusted:.3g}, so the penalty's "
            "gradient outweighs the data's beyond float64 precision (training "
            "diverges or ignores the data). Scale the sample weights up, e.g. "
            "divide them by their mean (with alpha=0 their scale changes "
            "nothing), or lower alpha."
        )
    return adjusted


def validate_numeric_data(estimator, X="no_validation", y="no_validation", **kwargs):
    """scikit-learn's ``validate_data``, refusing what it would let through.

    Dates and durations in ``X`` (dtype kinds ``'M'`` and ``'m'``) convert to
    numbers silently and make no sense as features; Python integers beyond
    the float64 range raise a bare ``OverflowError`` in the conversion.
    """
    if _dtype_kinds(X) & {"M", "m"}:
        raise ValueError(
            "Input X holds dates or time durations (datetime64 or "
            "timedelta64), which are not numbers a network can use. Convert "
            "them to numbers first (e.g. seconds since a reference time) and "
            "scale them."
        )
    if sp.issparse(y) and is_regressor(estimator):
        # validate_data accepts a sparse y with multi_output=True (for the
        # classifier's multilabel indicator matrix); scikit-learn refuses a
        # sparse regression target, with these words for one output.
        raise TypeError(
            "Sparse data was passed for y, but dense data is required. Use "
            "'.toarray()' to convert to a dense numpy array."
        )
    try:
        return validate_data(estimator, X, y, **kwargs)
    except OverflowError as exc:
        name = "X" if _overflows_float64(X) else "y"
        raise ValueError(
            f"Input {name} holds a number too large for float64 ({exc}). "
            "Rescale it (every value must be below 1.8e308 in magnitude)."
        ) from None


def _dtype_kinds(data):
    """The dtype kinds of an array's or a DataFrame's columns (no conversion)."""
    dtypes = getattr(data, "dtypes", None)
    if dtypes is not None and not isinstance(dtypes, np.dtype):
        return {getattr(dtype, "kind", "O") for dtype in dtypes}
    dtype = getattr(data, "dtype", None)
    return {dtype.kind} if isinstance(dtype, np.dtype) else set()


def _overflows_float64(data):
    try:
        np.asarray(data, dtype=np.float64)
    except OverflowError:
        return True
    except (TypeError, ValueError):
        return False
    return False


def largest_magnitude(data):
    """Largest absolute value of dense or sparse data, ignoring NaN."""
    values = data.data if sp.issparse(data) else data
    if values.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        return float(np.nanmax(np.abs(values)))


def numeric_targets(y, dtype):
    """Regression targets as finite numbers of ``dtype``.

    Parameters
    ----------
    y : ndarray
        Targets validated by ``validate_data`` (without ``y_numeric``: the
        conversion of an object array happens here, with an error naming y).
    dtype : numpy floating dtype
        The dtype of X, which training computes in.

    Returns
    -------
    y : ndarray of dtype ``dtype``

    Raises
    ------
    ValueError
        Naming ``y``: strings that are not numbers, dates, or values that are
        NaN, infinite or beyond the range of ``dtype``.
    """
    if y.dtype.kind not in "biuf":
        if y.dtype.kind not in "USO":
            raise ValueError(
                f"Input y must hold real numbers for regression; got dtype {y.dtype}."
            )
        try:
            y = y.astype(np.float64)
        except OverflowError as exc:
            raise ValueError(
                f"Input y holds a number too large for float64 ({exc}). "
                "Rescale it (every value must be below 1.8e308 in magnitude)."
            ) from None
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"Input y must hold numbers for regression; got dtype {y.dtype} "
                f"({exc})."
            ) from None
    with np.errstate(over="ignore"):
        y = y.astype(dtype, copy=False)
    assert_all_finite(y, input_name="y")
    return y


def checked_labels(y):
    """Labels that can be sorted into classes: no ``None``, no mixed types.

    Parameters
    ----------
    y : ndarray
        Validated labels.

    Returns
    -------
    y : ndarray
        ``y``, or an object array of numbers as a numeric array (scikit-learn
        calls an object array of numbers an unknown type of target).

    Raises
    ------
    ValueError
        Naming ``y`` and the types it mixes.
    """
    if y.dtype != object:
        return y
    types = set(map(type, y.ravel()))
    if type(None) in types:
        raise ValueError(
            "Input y holds None: every sample needs a class label. Drop the "
            "unlabelled samples or give them a label of their own."
        )
    strings = {t for t in types if issubclass(t, str)}
    if strings and strings != types:
        others = sorted(t.__name__ for t in types - strings)
        raise ValueError(
            f"Input y mixes string labels with labels of type {others}; "
            "labels must be all strings or all numbers to be sorted into "
            "classes_. Convert them to one type, e.g. y.astype(str)."
        )
    if not strings:
        return np.array(y.tolist())
    return y


def target_type(classifier):
    """The type of target a classifier was fitted on.

    Parameters
    ----------
    classifier : DropoutMLPClassifier
        A fitted classifier (or one whose ``partial_fit`` has seen classes).

    Returns
    -------
    target_type : str
        ``'binary'``, ``'multiclass'`` or ``'multilabel-indicator'``, as
        :func:`sklearn.utils.multiclass.type_of_target` names them.
    """
    return classifier._label_binarizer.y_type_


def indicator_columns(y):
    """The classes of a multilabel indicator ``y`` (its columns), else ``None``."""
    if not type_of_target(y).startswith("multilabel"):
        return None
    return np.arange(y.shape[1] if hasattr(y, "shape") else np.shape(y)[1])


def check_continued_labels(classifier, y, incremental):
    """Check that ``y`` may continue a fitted classifier's training.

    Parameters
    ----------
    classifier : DropoutMLPClassifier
        Fitted: gives ``classes_``, ``warm_start`` and the target type.
    y : array-like
        The labels of the new call.
    incremental : bool
        Whether ``partial_fit`` is the caller.

    Raises
    ------
    ValueError
        If ``y`` is multilabel after single-label targets (or the reverse),
        if a warm-started ``fit`` does not see every class, or if ``y`` has
        a class outside ``classes_``.
    """
    _check_target_kind(classifier, y)
    classes = unique_labels(y)
    # partial_fit batches may hold a subset of the declared classes, with
    # or without warm_start; a warm-started fit needs them all.
    if classifier.warm_start and not incremental:
        if set(classes) != set(classifier.classes_):
            raise ValueError(
                "warm_start can only be used where `y` has the same "
                "classes as in the previous call to fit. Previously "
                f"got {classifier.classes_}, `y` has {classes}"
            )
    elif len(np.setdiff1d(classes, classifier.classes_, assume_unique=True)):
        raise ValueError(
            "`y` has classes not in `self.classes_`. "
            f"`self.classes_` has {classifier.classes_}. 'y' has {classes}."
        )


def _check_target_kind(classifier, y):
    """Multilabel and single-label targets cannot follow each other."""
    fitted, given = target_type(classifier), type_of_target(y)
    if fitted.startswith("multilabel") != given.startswith("multilabel"):
        raise ValueError(
            f"y is {given!r}, but the model was fitted on {fitted!r} "
            "targets: a multilabel model cannot continue on single-label y "
            "or the reverse. Refit with warm_start=False (or a new "
            "estimator for partial_fit)."
        )
