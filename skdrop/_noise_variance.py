"""The regressor's noise variance: ``noise_variance_`` and its estimates.

``predict(X, return_std=True)`` adds a constant noise variance to the
Monte Carlo variance of the dropout passes. :class:`NoiseVarianceMixin`
sets it at the end of every fit (from held-out rows by likelihood when there
are some, corrected for early stopping having chosen the epoch on them, else
from one thinned network's training residuals), gives the
copies that callbacks take mid-fit their own, and re-estimates it on request
(``estimate_noise_variance``).
"""

import copy
import math
from numbers import Real
from typing import Self

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from ._base import DEFAULT_MC_SAMPLES, MatrixLike
from ._core.training import NonFiniteTrainingError
from ._validation import numeric_targets, validate_numeric_data

# The fewest held-out rows worth measuring the noise on.
MIN_NOISE_HOLDOUT_ROWS = 5
# Training rows of the noise estimate without held-out rows: enough for a
# variance, and a bounded cost on large data.
MAX_NOISE_ROWS = 20_000


def best_noise_variance(residuals, model_variance, weights=None):
    """The noise variance ``s`` that maximises the Gaussian log-likelihood
    of ``residuals`` with variances ``model_variance + s``.

    Searched on a log scale between a millionth and ten times the mean
    squared residual (the likelihood has one maximum there unless the model
    variance alone over-covers, when the smallest value is returned).
    """
    squared = np.asarray(residuals, dtype=np.float64) ** 2
    model_variance = np.asarray(model_variance, dtype=np.float64)
    scale = max(float(np.average(squared, weights=weights)), 1e-300)

    def negative_log_likelihood(log_noise):
        variance = model_variance + scale * math.exp(log_noise)
        terms = np.log(variance) + squared / variance
        return float(np.average(terms, weights=weights))

    result = minimize_scalar(
        negative_log_likelihood, bounds=(math.log(1e-6), math.log(10.0)),
        method="bounded", options={"xatol": 1e-3},
    )  # fmt: skip
    return scale * math.exp(result.x)


def _relative_weights(sample_weight):
    """Sample weights relative to the largest: tiny weights neither underflow
    in w * r**2 nor overflow 1 / sum(w)."""
    if sample_weight is None:
        return None
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    return sample_weight / sample_weight.max()


class NoiseVarianceMixin:
    """``noise_variance_`` of :class:`~skdrop.DropoutMLPRegressor`.

    Mixed into the regressor ahead of ``BaseDropoutMLP``, whose hooks
    ``_after_fit`` and ``_statistics_of_weights`` it fills in; it uses the
    base's Monte Carlo passes (``_monte_carlo_outputs``, ``_mc_seed``), its
    whole-network ``_forward`` and the regressor's ``_validate_input``.
    """

    def _after_fit(self, X, y, sample_weight, validation, selection):
        """``noise_variance_`` from the validation rows, else the training rows."""
        try:
            if validation is not None:
                self.noise_variance_ = self._held_out_noise_variance(*validation)
                # The epoch was chosen on these rows, which flatters their
                # residuals: scale by the cross-fitted optimism.
                self.noise_variance_ *= max(selection.factor(), 1.0)
            else:
                self.noise_variance_ = self._noisy_squared_residual(X, y, sample_weight)
        except ValueError as exc:  # the output overflowed: the fit diverged
            raise NonFiniteTrainingError(
                "the output of the trained network became infinite or NaN"
            ) from exc

    def _statistics_of_weights(self, weights, X, y, metadata):
        # A callback's copy during fit needs a noise_variance_ for its own
        # weights: the training residuals of the data the fit was given.
        twin = copy.copy(self)
        vars(twin).update(weights)
        X, y = twin._validate_input(X, y, incremental=True, reset=False)
        sample_weight = (metadata or {}).get("sample_weight")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
        return {"noise_variance_": twin._mean_squared_residual(X, y, sample_weight)}

    def _held_out_noise_variance(self, X, y, sample_weight):
        """The noise variance under which ``return_std`` fits the held-out rows best.

        On rows the network was not trained on, each row's predictive
        distribution is a Gaussian with the Monte Carlo mean and the Monte
        Carlo variance plus the noise variance; the noise variance is the
        one that maximises the rows' log-likelihood (per output). When the
        epoch was chosen on the same rows, ``_after_fit`` scales it by the
        cross-fitted optimism of that choice
        (:class:`skdrop._core.training.SelectionOptimism`).
        """
        samples = self._monte_carlo_outputs(X, DEFAULT_MC_SAMPLES, self._mc_seed)
        weights = _relative_weights(sample_weight)
        residuals = y.reshape(len(y), -1) - samples.mean(axis=0)
        model_variance = samples.var(axis=0)
        return np.array(
            [
                best_noise_variance(residuals[:, k], model_variance[:, k], weights)
                for k in range(residuals.shape[1])
            ]
        )

    def _noisy_squared_residual(self, X, y, sample_weight):
        """Mean squared residual of one thinned network per training row.

        The whole network's training residuals shrink towards zero as it
        fits its rows closely; those of the thinned networks, which dropout
        keeps from memorising, are an upper estimate of the noise (they
        also hold part of the model's variance), so ``return_std`` errs on
        the wide side. Without dropout this is the plain training residual.
        """
        rows = slice(None, MAX_NOISE_ROWS)
        sample = self._monte_carlo_outputs(X[rows], 1, self._mc_seed)[0]
        weights = _relative_weights(
            None if sample_weight is None else sample_weight[rows]
        )
        residuals = y[rows].reshape(sample.shape[0], -1) - sample
        return np.average(residuals**2, axis=0, weights=weights)

    def _mean_squared_residual(self, X, y, sample_weight):
        """Per-output (weighted) mean squared residual of the whole network."""
        residuals = y.reshape(len(y), -1) - self._forward(X)
        return np.average(
            residuals**2, axis=0, weights=_relative_weights(sample_weight)
        )

    def estimate_noise_variance(
        self,
        X: MatrixLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
        holdout_fraction: float = 0.2,
    ) -> Self:
        """Re-estimate ``noise_variance_`` on rows a network was not trained on.

        A copy of this estimator (same parameters, at most ``n_iter_``
        epochs, no early stopping) is fitted on a random
        ``1 - holdout_fraction`` of the rows, and ``noise_variance_`` becomes
        the mean squared residual of that copy's whole network on the other
        rows. The fitted weights of this estimator do not change. This costs
        about one more ``fit`` on ``1 - holdout_fraction`` of the data; it is
        worth it when ``return_std`` must be calibrated and the network can
        overfit (training residuals, the default estimate without early
        stopping, then understate the noise). The split and the copy are
        seeded from the fitted model, so the result is reproducible.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The data, usually the training data of ``fit``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        holdout_fraction : float in (0, 1), default=0.2
            Share of the rows held out to measure the residuals on.

        Returns
        -------
        self : object
            The estimator, with a new ``noise_variance_``.
        """
        check_is_fitted(self)
        if not (isinstance(holdout_fraction, Real) and 0 < holdout_fraction < 1):
            raise InvalidParameterError(
                "The 'holdout_fraction' parameter of estimate_noise_variance "
                f"must be a float in the range (0, 1). Got {holdout_fraction!r} "
                "instead."
            )
        X, y = validate_numeric_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
            dtype=(np.float64, np.float32), reset=False,
        )  # fmt: skip
        y = numeric_targets(y, X.dtype)
        n_held_out = round(holdout_fraction * X.shape[0])
        if n_held_out < MIN_NOISE_HOLDOUT_ROWS:
            raise ValueError(
                f"holdout_fraction={holdout_fraction} of {X.shape[0]} rows holds "
                f"out {n_held_out} rows; at least {MIN_NOISE_HOLDOUT_ROWS} are "
                "needed. Pass more rows or a larger holdout_fraction."
            )
        seeds = np.random.default_rng([self._mc_seed, 1]).integers(2**31 - 1, size=2)
        arrays = [X, y] if sample_weight is None else [X, y, sample_weight]
        split = train_test_split(
            *arrays, test_size=n_held_out, random_state=int(seeds[0])
        )
        train, held_out = split[0::2], split[1::2]
        if sample_weight is None:
            train.append(None)
            held_out.append(None)
        else:
            held_out[2] = np.asarray(held_out[2], dtype=np.float64)
            if not np.any(held_out[2] > 0):
                raise ValueError(
                    "Every held-out row has zero sample_weight: the noise cannot "
                    "be measured on them. Change holdout_fraction or the weights."
                )
        auxiliary = clone(self).set_params(
            early_stopping=False,
            warm_start=False,
            verbose=False,
            max_iter=max(self.n_iter_, 1),
            random_state=int(seeds[1]),
        )
        # clone() hands over the user's callbacks; they watch the user's fits.
        vars(auxiliary).pop("_skl_callbacks", None)
        # Capping max_iter at n_iter_ routinely ends before tol is met: the
        # copy does not warn. (warnings.catch_warnings would change the
        # process-wide filters, which concurrent calls leave changed.)
        auxiliary._warns_at_max_iter = False
        auxiliary.fit(train[0], train[1], sample_weight=train[2])
        X_out, y_out, sw_out = held_out
        self.noise_variance_ = auxiliary._mean_squared_residual(X_out, y_out, sw_out)
        return self
