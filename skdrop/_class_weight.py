"""``class_weight`` of DropoutMLPClassifier: its documentation, its
constraint, and the row weights it gives with ``sample_weight``.

The classifier holds labels and probabilities; how a class's weight is
checked, balanced and combined with the per-row weights is one concept of
its own, kept here so that it is read (and tested) in one place.
"""

from numbers import Real
from textwrap import dedent

import numpy as np
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import _check_sample_weight

CLASS_WEIGHT_CONSTRAINT = [dict, StrOptions({"balanced"}), None]

# The classifier's docstring entry, put in place of its marker line by
# _docstrings.fill_shared_sections.
CLASS_WEIGHT_PARAMETER = dedent(
    """\
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the training loss, as in
        :class:`~sklearn.linear_model.LogisticRegression`. A dict maps class
        labels to non-negative weights (classes it leaves out weigh 1);
        ``'balanced'`` weighs each class by ``n_samples / (n_classes *
        n_samples_in_class)``, counting ``sample_weight``. Each row's weight
        is its class's weight times its ``sample_weight``; the early-stopping
        score is weighted in the same way. ``'balanced'`` needs all the
        labels at once, so ``partial_fit`` refuses it: compute the weights
        with :func:`~sklearn.utils.class_weight.compute_class_weight` on the
        labels (or a large sample of them) and pass them as a dict. Multilabel
        targets are refused: pass per-row weights as ``sample_weight``, e.g.
        from :func:`~sklearn.utils.class_weight.compute_sample_weight`."""
)


def weighted_by_class(estimator, X, y, sample_weight, *, multilabel, incremental):
    """``sample_weight`` times the weight of each row's class.

    Parameters
    ----------
    estimator : DropoutMLPClassifier
        Gives ``class_weight``, ``classes_`` and its name for the messages.
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The training rows (their number checks ``sample_weight``).
    y : ndarray of shape (n_samples, n_outputs)
        The encoded labels, one column per class (or a single 0/1 column).
    sample_weight : array-like of shape (n_samples,) or None
        The caller's per-row weights.
    multilabel : bool
        Whether ``y`` is a multilabel target, which class weights refuse.
    incremental : bool
        Whether ``partial_fit`` is the caller, which refuses ``'balanced'``.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,) or None
        The combined weights; ``sample_weight`` itself without class weights.
    """
    class_weight = estimator.class_weight
    if class_weight is None:
        return sample_weight
    if multilabel:
        raise ValueError(
            "class_weight is not supported for multilabel targets: each "
            "row has several labels, so no single class gives its weight. "
            "Pass per-row weights as sample_weight instead, e.g. "
            "sample_weight=compute_sample_weight('balanced', y) from "
            "sklearn.utils.class_weight (the product of every label's "
            "class weight)."
        )
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    # Index of each row's class in classes_ (a single column holds 0 or 1).
    rows = (y.argmax(axis=1) if y.shape[1] > 1 else y[:, 0]).astype(np.intp)
    if isinstance(class_weight, str):  # 'balanced'
        weights = balanced_class_weights(
            rows, sample_weight, len(estimator.classes_), incremental
        )
    else:
        weights = class_weights_from_dict(
            class_weight, estimator.classes_.tolist(), type(estimator).__name__
        )
    return _combined(weights[rows], sample_weight, class_weight)


def _combined(row_class_weights, sample_weight, class_weight):
    """The product of both weights, refused if it overflows or is all 0."""
    with np.errstate(over="ignore"):
        combined = row_class_weights * sample_weight
    if not np.isfinite(combined).all():
        raise ValueError(
            f"class_weight={class_weight!r:.200} times sample_weight "
            "overflows float64. Scale the weights down."
        )
    if not combined.any():
        raise ValueError(
            f"class_weight={class_weight!r:.200} gives every sample a "
            "weight of 0 (with sample_weight): at least one class present "
            "in y needs a positive weight."
        )
    return combined


def balanced_class_weights(rows, sample_weight, n_classes, incremental):
    """``n_samples / (n_classes * n_samples_in_class)``, counting weights.

    Parameters
    ----------
    rows : ndarray of shape (n_samples,)
        Index of each row's class in ``classes_``.
    sample_weight : ndarray of shape (n_samples,)
        Per-row weights, counted in the class totals.
    n_classes : int
        Number of classes in ``classes_``.
    incremental : bool
        Whether ``partial_fit`` is the caller, which refuses ``'balanced'``.

    Returns
    -------
    weights : ndarray of shape (n_classes,)
        One weight per class; 0 for a class whose rows all weigh 0.
    """
    if incremental:
        raise ValueError(
            "class_weight='balanced' is not supported by partial_fit: the "
            "class frequencies need all the labels, and each call sees one "
            "batch. Compute the weights once, e.g. dict(zip(classes, "
            "compute_class_weight('balanced', classes=classes, y=y))) from "
            "sklearn.utils.class_weight on the labels (or a large sample of "
            "them), and pass that dict as class_weight."
        )
    totals = np.bincount(rows, weights=sample_weight, minlength=n_classes)
    n_present = np.count_nonzero(np.bincount(rows, minlength=n_classes))
    weights = np.zeros(n_classes)
    # A class whose rows all weigh 0 keeps weight 0 (not 1 / 0).
    positive = totals > 0
    weights[positive] = totals.sum() / (n_present * totals[positive])
    return weights


def class_weights_from_dict(class_weight, classes, estimator_name):
    """The weight of every class in ``classes``; absent keys weigh 1.

    Parameters
    ----------
    class_weight : dict
        Class label to weight, as the user gave it.
    classes : list
        The classifier's ``classes_``, in order.
    estimator_name : str
        Names the estimator in the error messages.

    Returns
    -------
    weights : ndarray of shape (len(classes),)
        One weight per class.
    """
    known = set(classes)
    for label, weight in class_weight.items():
        if label not in known:
            raise ValueError(
                f"The 'class_weight' parameter of {estimator_name} has "
                f"a weight for class {label!r}, which is not a class of y: "
                f"the classes are {classes!r:.200}. Keys must be class "
                "labels of the same type as y's (e.g. 1, not '1')."
            )
        if not _is_class_weight(weight):
            raise ValueError(
                f"The 'class_weight' parameter of {estimator_name} "
                "must map each class to a finite non-negative number. Got "
                f"{weight!r:.100} for class {label!r} instead."
            )
    return np.array([float(class_weight.get(label, 1.0)) for label in classes])


def _is_class_weight(weight):
    """Whether ``weight`` is a finite non-negative real number (not a bool)."""
    return (
        isinstance(weight, Real)
        and not isinstance(weight, bool | np.bool_)
        and bool(np.isfinite(weight))
        and weight >= 0
    )
