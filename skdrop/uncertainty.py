"""Uncertainty measures computed from Monte Carlo dropout samples.

The functions here take the array returned by
:meth:`skdrop.DropoutMLPClassifier.predict_samples`: class probabilities of
shape ``(n_samples, n_rows, n_classes)``, one slice per stochastic forward
pass. They split the uncertainty of each row into its two parts:

* :func:`predictive_entropy`, the *total* uncertainty: the entropy of the
  averaged prediction;
* :func:`expected_entropy`, the *aleatoric* part: the average entropy of the
  individual passes, the ambiguity every thinned network agrees on;
* :func:`mutual_information`, the *epistemic* part (BALD): their difference,
  large only where the thinned networks disagree with each other.

All values are in nats (natural logarithm); divide by ``log(2)`` for bits.
"""

from textwrap import dedent

import numpy as np
from scipy.special import entr

from ._docstrings import fill_markers

__all__ = ["expected_entropy", "mutual_information", "predictive_entropy"]

# Docstring blocks the measures share, each standing in a docstring as a line
# holding only its marker (see skdrop._docstrings).
_PROBA_SAMPLES_PARAMETERS = dedent(
    """\
    proba_samples : array-like of shape (n_samples, n_rows, n_classes)
        Class probabilities of each pass.
    multilabel : bool, default=False
        Treat each column as an independent binary label; see
        :func:`predictive_entropy`."""
)
# The start of every example: two passes over two rows, which are certain
# but disagree on row 0 and agree on 50/50 for row 1.
_EXAMPLE_SAMPLES = dedent(
    """\
    >>> import numpy as np
    >>> from skdrop.uncertainty import {name}
    >>> samples = np.array([[[1.0, 0.0], [0.5, 0.5]],
    ...                     [[0.0, 1.0], [0.5, 0.5]]])"""
)


def _with_shared_sections(function):
    """Fill the ``PROBA_SAMPLES_PARAMETERS`` and ``EXAMPLE_SAMPLES`` lines of
    a measure's docstring."""
    sections = {
        "PROBA_SAMPLES_PARAMETERS": _PROBA_SAMPLES_PARAMETERS,
        "EXAMPLE_SAMPLES": _EXAMPLE_SAMPLES.format(name=function.__name__),
    }
    function.__doc__ = fill_markers(function.__doc__, sections)
    return function


@_with_shared_sections
def predictive_entropy(proba_samples, *, multilabel=False):
    """Entropy of the Monte Carlo mean prediction, per row.

    The mean over passes approximates the predictive distribution of the
    model; its entropy is the total uncertainty, data noise and model
    uncertainty together.

    Parameters
    ----------
    proba_samples : array-like of shape (n_samples, n_rows, n_classes)
        Class probabilities of each pass, as returned by
        :meth:`DropoutMLPClassifier.predict_samples`.
    multilabel : bool, default=False
        If False, each row's last axis is one distribution over classes. If
        True, each column is the probability of an independent binary label
        and the entropies of the labels are summed.

    Returns
    -------
    entropy : ndarray of shape (n_rows,)
        Entropy in nats: 0 for a certain prediction, at most
        ``log(n_classes)`` (``n_classes * log(2)`` for multilabel).

    See Also
    --------
    mutual_information : The part of this entropy due to the model.
    expected_entropy : The part of this entropy due to the data.

    Examples
    --------
    EXAMPLE_SAMPLES
    >>> predictive_entropy(samples).round(4)  # both rows average to (0.5, 0.5)
    array([0.6931, 0.6931])
    """
    proba = _check_proba_samples(proba_samples, multilabel)
    return _entropy(proba.mean(axis=0), multilabel)


@_with_shared_sections
def expected_entropy(proba_samples, *, multilabel=False):
    """Mean entropy of the individual passes, per row (aleatoric uncertainty).

    Parameters
    ----------
    PROBA_SAMPLES_PARAMETERS

    Returns
    -------
    entropy : ndarray of shape (n_rows,)
        Average over passes of each pass's entropy, in nats.

    See Also
    --------
    predictive_entropy : The total uncertainty.

    Examples
    --------
    EXAMPLE_SAMPLES
    >>> expected_entropy(samples).round(4)  # row 0: every pass is certain
    array([0.    , 0.6931])
    """
    proba = _check_proba_samples(proba_samples, multilabel)
    return _entropy(proba, multilabel).mean(axis=0)


@_with_shared_sections
def mutual_information(proba_samples, *, multilabel=False):
    """Mutual information between prediction and weights (BALD), per row.

    This is ``predictive_entropy - expected_entropy``: the uncertainty that
    comes from disagreement between the thinned networks rather than from
    ambiguity they share. It is zero when every pass predicts the same
    distribution (for example without dropout) and reaches its maximum,
    the predictive entropy, when every pass is certain but they disagree.

    Parameters
    ----------
    PROBA_SAMPLES_PARAMETERS

    Returns
    -------
    mutual_information : ndarray of shape (n_rows,)
        Non-negative mutual information in nats.

    See Also
    --------
    predictive_entropy : The total uncertainty.
    expected_entropy : The aleatoric part.

    Notes
    -----
    Houlsby et al. (2011) use this quantity, "Bayesian active learning by
    disagreement", to pick the rows whose labels would teach the model most;
    Gal et al. (2017) compute it from Monte Carlo dropout samples.

    Examples
    --------
    EXAMPLE_SAMPLES
    >>> mutual_information(samples).round(4)  # row 0: the passes disagree
    array([0.6931, 0.    ])
    """
    proba = _check_proba_samples(proba_samples, multilabel)
    total = _entropy(proba.mean(axis=0), multilabel)
    aleatoric = _entropy(proba, multilabel).mean(axis=0)
    # Jensen's inequality makes the difference non-negative; clip the
    # rounding error that can make it -1e-17.
    return np.maximum(total - aleatoric, 0.0)


# How far a row of probabilities may sum from 1: float32 softmax outputs
# over many classes are off by a few ulps per class.
SUM_TOLERANCE = 1e-4


def _check_proba_samples(proba_samples, multilabel):
    """Validate Monte Carlo class probabilities; return them as float64."""
    raw = np.asarray(proba_samples)
    if raw.dtype.kind not in "biuf":
        raise TypeError(
            "proba_samples must hold real numbers (probabilities); got an "
            f"array of dtype {raw.dtype}."
        )
    proba = raw.astype(np.float64, copy=False)
    if proba.ndim != 3:
        raise ValueError(
            "proba_samples must have shape (n_samples, n_rows, n_classes), "
            f"got an array of shape {proba.shape}."
        )
    if proba.shape[0] == 0 or proba.shape[2] == 0:
        raise ValueError(
            "proba_samples needs at least one Monte Carlo sample and one "
            f"class; got an array of shape {proba.shape}."
        )
    if not np.all((proba >= 0) & (proba <= 1)):
        raise ValueError("proba_samples must contain probabilities in [0, 1] (no NaN).")
    if not multilabel:
        sums = proba.sum(axis=-1)
        if not np.allclose(sums, 1.0, rtol=0.0, atol=SUM_TOLERANCE):
            worst = sums.flat[np.argmax(np.abs(sums - 1.0))]
            raise ValueError(
                "Each row of proba_samples must be a distribution over the "
                f"classes, summing to 1; found a row summing to {worst:.6g}. "
                "For independent binary labels pass multilabel=True."
            )
    return proba


def _entropy(proba, multilabel):
    """Entropy over the last axis; ``entr`` gives 0 * log 0 = 0."""
    if multilabel:
        return np.sum(entr(proba) + entr(1.0 - proba), axis=-1)
    return np.sum(entr(proba), axis=-1)
