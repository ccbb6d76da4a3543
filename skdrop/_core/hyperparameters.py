"""An optimiser's hyper-parameters, declared once.

Each ``Optimizer`` subclass lists its hyper-parameters as
:class:`Hyperparameter` entries: which estimator parameter sets it and which
values it allows. From that one declaration come the arguments
``from_parameters`` passes, the ranges and options a saved state is checked
against (:mod:`skdrop._core.optimizer_state`), and the estimators'
parameter constraints (:mod:`skdrop._parameters`, which turns a range into
scikit-learn's ``Interval``; the core itself imports no scikit-learn).
"""

import math
from typing import NamedTuple


class Hyperparameter(NamedTuple):
    """One hyper-parameter of an optimiser.

    Parameters
    ----------
    estimator_parameter : str
        The estimators' constructor parameter that sets it.
    allowed : tuple, frozenset or 'boolean'
        ``(low, high, closed)`` for a real number, ``closed`` as in
        scikit-learn's ``Interval`` ('left', 'right', 'both', 'neither');
        ``high=None`` leaves it unbounded, infinity included, as
        ``Interval`` does, while ``high=math.inf`` refuses infinity. A
        frozenset of strings lists the allowed options; ``'boolean'``
        allows a bool.
    """

    estimator_parameter: str
    allowed: tuple | frozenset | str


def estimator_parameters(hyperparameters):
    """Estimator parameter -> constructor argument, for ``from_parameters``."""
    return {hp.estimator_parameter: arg for arg, hp in hyperparameters.items()}


def scalar_ranges(hyperparameters):
    """Argument -> ``(low, high, closed)`` of the real-valued ones, with an
    unbounded ``high`` written as infinity (a saved state is finite)."""
    return {
        arg: (low, math.inf if high is None else high, closed)
        for arg, (_, allowed) in hyperparameters.items()
        if isinstance(allowed, tuple)
        for low, high, closed in [allowed]
    }


def string_options(hyperparameters):
    """Argument -> allowed strings, of those that take one of a few options."""
    return {
        arg: set(allowed)
        for arg, (_, allowed) in hyperparameters.items()
        if isinstance(allowed, frozenset)
    }


def derived(hyperparameters, state_ranges):
    """``(estimator_parameters, scalar_ranges, string_options)`` of an
    optimiser, from its declarations.

    Parameters
    ----------
    hyperparameters : dict
        Constructor argument -> :class:`Hyperparameter`.
    state_ranges : dict
        The other saved scalars -> ``(low, high, closed)``.

    Returns
    -------
    estimator_parameters, scalar_ranges, string_options : dict
        What ``from_parameters`` passes and what a saved state is checked
        against.
    """
    return (
        estimator_parameters(hyperparameters),
        scalar_ranges(hyperparameters) | state_ranges,
        string_options(hyperparameters),
    )
