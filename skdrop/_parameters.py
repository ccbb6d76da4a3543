"""The estimators' parameters: their constraints and the checks beyond them.

The constraints of ``solver`` and ``dropout_type`` come from the registries
of the core (:data:`skdrop._optimizers.SOLVERS`, :data:`skdrop._noise.NOISE`),
so a new optimiser or kind of dropout is accepted without an edit here.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)

from ._activations import HIDDEN_ACTIVATIONS
from ._noise import NOISE
from ._optimizers import SOLVERS


class ParametersMixin:
    """Parameter constraints and checks of ``BaseDropoutMLP``."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS))],
        "solver": [StrOptions(set(SOLVERS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "dropout_rate": ["array-like", Interval(Real, 0, 1, closed="left")],
        "input_dropout_rate": [Interval(Real, 0, 1, closed="left")],
        "dropout_type": [StrOptions(set(NOISE))],
        "max_norm": [None, Interval(Real, 0, None, closed="neither")],
    }

    # -- parameters that need more than _parameter_constraints ------------
    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if any(not isinstance(s, Integral | np.integer) or s <= 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _dropout_rates(self, n_hidden):
        """One rate per layer that can be dropped: the input, then each hidden."""
        rates = self.dropout_rate
        if np.ndim(rates) == 0:
            rates = [rates] * n_hidden
        else:
            rates = list(np.asarray(rates, dtype=object).ravel())
            if len(rates) != n_hidden:
                raise InvalidParameterError(
                    "The 'dropout_rate' parameter of "
                    f"{type(self).__name__} must be a float in [0, 1) or a "
                    f"sequence of {n_hidden} such floats, one per hidden layer. "
                    f"Got {len(rates)} values: {self.dropout_rate!r} instead."
                )
        for rate in rates:
            valid = isinstance(rate, Real | np.floating | np.integer)
            if not valid or not 0 <= rate < 1 or isinstance(rate, bool):
                raise InvalidParameterError(
                    "The 'dropout_rate' parameter of "
                    f"{type(self).__name__} must be a float in the range [0, 1), "
                    "or a sequence of such floats, one per hidden layer. "
                    f"Got {self.dropout_rate!r} instead."
                )
        return [float(self.input_dropout_rate)] + [float(r) for r in rates]

    def _check_dropout_settings(self, rates):
        if self.solver == "lbfgs" and any(rates):
            raise ValueError(
                "solver='lbfgs' cannot be used with dropout: dropout makes the "
                "training objective stochastic, and L-BFGS needs a deterministic "
                "loss and gradient. Use solver='adam' or 'sgd', or set "
                "dropout_rate=0 and input_dropout_rate=0."
            )
        designed_for = NOISE[self.dropout_type].designed_for_activation
        if designed_for not in (None, self.activation) and any(rates):
            warnings.warn(
                f"dropout_type={self.dropout_type!r} is designed for "
                f"activation={designed_for!r}, whose mean and variance it "
                f"preserves; with activation={self.activation!r} it does not "
                "keep activations normalised.",
                UserWarning,
                stacklevel=3,
            )
