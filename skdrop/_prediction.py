"""Prediction with a fitted estimator's weights: whole network and Monte Carlo.

``PredictionMixin`` is the part of ``BaseDropoutMLP`` that wraps the fitted
``coefs_`` and ``intercepts_`` in a :class:`skdrop._core.network.Network` (no copy)
and runs it, deterministically or with dropout on
(:func:`skdrop._core.montecarlo.monte_carlo_outputs`).
"""

import zlib
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    InvalidParameterError,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted

from ._core.montecarlo import check_finite_output, monte_carlo_outputs
from ._core.network import Network


class PredictionMixin:
    """Whole-network and Monte Carlo outputs of ``BaseDropoutMLP``."""

    def _check_parameters_in_use(self, names):
        """Validate parameters that prediction uses, as ``fit`` does.

        ``set_params`` after ``fit`` changes them without validation, and
        prediction reads them from the estimator.
        """
        validate_parameter_constraints(
            {name: self._parameter_constraints[name] for name in names},
            {name: getattr(self, name) for name in names},
            caller_name=type(self).__name__,
        )

    def _prediction_network(self, dtype):
        self._check_parameters_in_use(("activation",))
        return Network(
            [c.shape[0] for c in self.coefs_] + [self.n_outputs_],
            self.activation,
            self.out_activation_,
            dtype,
            coefs=self.coefs_,
            intercepts=self.intercepts_,
        )

    def _forward(self, X):
        """Deterministic output of the whole network (no dropout)."""
        output = self._prediction_network(self.coefs_[0].dtype).predict(X)
        check_finite_output(output)
        return output

    @staticmethod
    def _check_n_samples(n_samples):
        if (
            not isinstance(n_samples, Integral | np.integer)
            or isinstance(n_samples, bool)
            or n_samples < 1
        ):
            raise InvalidParameterError(
                f"n_samples must be an int >= 1, got {n_samples!r}."
            )

    def _monte_carlo_outputs(self, X, n_samples, random_state, out=None):
        """Outputs of ``n_samples`` passes with dropout switched on.

        Returns an array of shape ``(n_samples, n_rows, n_outputs)`` (``out``
        if given); see :func:`skdrop._core.montecarlo.monte_carlo_outputs`.
        """
        check_is_fitted(self)
        self._check_n_samples(n_samples)
        network = self._prediction_network(self.coefs_[0].dtype)
        self._check_parameters_in_use(("dropout_type",))
        network.set_dropout(self._prediction_rates(), self.dropout_type)
        rng = generator_from(random_state)
        return monte_carlo_outputs(network, X, n_samples, rng, out)

    def _prediction_rates(self):
        """The rates of Monte Carlo passes: the parameters' rates as they are
        now, with every ``'auto'`` replaced by the rate learned in ``fit``."""
        rates = self._dropout_rates(len(self.coefs_) - 1)
        if "auto" not in rates:
            return rates
        if getattr(self, "dropout_rates_", None) is None:
            raise ValueError(
                f"This {type(self).__name__} was fitted without learned dropout "
                "rates, but its dropout rates are now 'auto': fit it again, or "
                "set the rates it was fitted with."
            )
        learned = [self.input_dropout_rate_, *self.dropout_rates_]
        return [
            float(fitted) if rate == "auto" else rate
            for rate, fitted in zip(rates, learned, strict=True)
        ]

    @property
    def _mc_seed(self):
        """Seed of the Monte Carlo passes behind ``predict(return_std=True)``.

        Derived from the output layer's weights, so repeated calls agree and
        every copy of a model (pickled, deep-copied, or handed to a callback
        during fit) has it, with no state to keep.
        """
        last = self.coefs_[-1].tobytes() + self.intercepts_[-1].tobytes()
        return zlib.crc32(last)


def generator_from(random_state):
    """A NumPy Generator seeded from a scikit-learn ``random_state``.

    ``None`` and ``RandomState`` instances draw the seed from that state,
    so the global seed and shared instances behave as in scikit-learn.
    """
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.Generator(np.random.PCG64(seed))
