"""DropoutMLPRegressor: targets, Monte Carlo mean and predictive std."""

import copy
import math
import warnings
from numbers import Real
from typing import Self

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar
from sklearn.base import RegressorMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils import assert_all_finite
from sklearn.utils._param_validation import InvalidParameterError, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._base import (
    DEFAULT_MC_SAMPLES,
    BaseDropoutMLP,
    MatrixLike,
    RandomStateLike,
    stochastic_solver,
)
from ._docstrings import fill_shared_sections
from ._montecarlo import predictive_mean_std
from ._training import NonFiniteTrainingError
from ._validation import validate_numeric_data

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


def coefficient_of_determination(y, prediction, sample_weight=None):
    """``r2_score(y, prediction, sample_weight)`` for 2-D float arrays, without
    its input checks (it runs once per epoch on the validation rows).

    An output whose targets are constant scores 1 if predicted exactly and
    0 otherwise, as with ``r2_score``'s ``force_finite=True``.
    """
    weights = None if sample_weight is None else sample_weight[:, np.newaxis]
    residual = np.sum((y - prediction) ** 2 * (1 if weights is None else weights), 0)
    mean = np.average(y, axis=0, weights=sample_weight)
    spread = np.sum((y - mean) ** 2 * (1 if weights is None else weights), 0)
    scores = np.where(residual == 0, 1.0, 0.0)
    varying = spread != 0
    scores[varying] = 1.0 - residual[varying] / spread[varying]
    return float(np.mean(scores))


def _relative_weights(sample_weight):
    """Sample weights relative to the largest: tiny weights neither underflow
    in w * r**2 nor overflow 1 / sum(w)."""
    if sample_weight is None:
        return None
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    return sample_weight / sample_weight.max()


class DropoutMLPRegressor(RegressorMixin, BaseDropoutMLP):
    """Multi-layer perceptron regressor trained with dropout.

    A drop-in replacement for :class:`sklearn.neural_network.MLPRegressor`
    with the same parameters, defaults and attributes, plus dropout. Training
    uses inverted dropout; ``predict`` uses the whole network. With
    ``return_std=True``, ``predict`` returns the Monte Carlo dropout mean and
    a predictive standard deviation instead.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        Training loss: half the squared error (identity output) or half the
        Poisson deviance (exponential output, requires ``y >= 0``). With
        several outputs, the loss is summed over outputs and averaged over
        samples, which is the convention its gradient follows.
    MLP_PARAMETERS
    dropout_rate : float, sequence of float or 'auto', default=0.3
        Probability of dropping each hidden unit at every training step,
        in [0, 1); a sequence gives one rate per hidden layer, and ``'auto'``
        learns one rate per hidden layer (see Notes). The default was
        measured: on scikit-learn's diabetes data (X and y standardised,
        70/30 splits, five seeds, default network) the held-out R² was
        0.389, 0.423, 0.436, 0.442, 0.450 and 0.450 for rates 0, 0.05, 0.1,
        0.2, 0.3 and 0.5; 0.3 and 0.5 tied, 0.014 above 0.1 on average over
        paired splits, and 0.3 keeps more of the network at each step
        (``benchmarks/uncertainty.py``).
    DROPOUT_PARAMETERS

    Attributes
    ----------
    SHARED_ATTRIBUTES
    noise_variance_ : ndarray of shape (n_outputs,)
        Homoscedastic noise variance that ``predict(X, return_std=True)``
        adds to the Monte Carlo variance. With held-out rows
        (``early_stopping=True`` or learned rates): the variance under which
        the Gaussian predictive distributions (Monte Carlo mean, Monte Carlo
        variance plus noise variance) give the held-out rows the highest
        likelihood. Without: the mean squared residual of one thinned
        network (one dropout pass) per training row (up to 20,000 rows),
        which dropout keeps from memorising; an upper estimate (it also
        holds part of the model's variance), so intervals err on the wide
        side. Without dropout that is the training residual, too small for
        a network that overfits: :meth:`estimate_noise_variance` then
        measures it on held-out rows, at the cost of a second fit.
    out_activation_ : str
        ``'identity'`` for the squared error, ``'exp'`` for Poisson.

    See Also
    --------
    DropoutMLPClassifier : The classifier with the same dropout parameters.
    sklearn.neural_network.MLPRegressor : The regressor this one replaces.

    Notes
    -----
    SHARED_NOTES

    Examples
    --------
    >>> import numpy as np
    >>> from skdrop import DropoutMLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(200, 1))
    >>> y = np.sin(3 * X[:, 0]) + 0.1 * rng.normal(size=200)
    >>> reg = DropoutMLPRegressor(max_iter=500, random_state=0).fit(X, y)
    >>> mean, std = reg.predict(X[:3], return_std=True)
    >>> mean.shape, std.shape
    ((3,), (3,))
    >>> bool((std > 0).all())
    True
    """

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter="auto",
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout_rate=0.3,
        input_dropout_rate=0.0,
        dropout_type="bernoulli",
        max_norm=None,
        dropout_group_size=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            loss=loss,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout_rate=dropout_rate,
            input_dropout_rate=input_dropout_rate,
            dropout_type=dropout_type,
            max_norm=max_norm,
            dropout_group_size=dropout_group_size,
        )

    _parameter_constraints: dict = {
        **BaseDropoutMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    # -- data -----------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_numeric_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y = numeric_targets(y, X.dtype)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for "
                "Poisson regression."
            )
        return X, y

    def _loss_name(self):
        return self.loss

    def _stratify_labels(self, y):
        return None

    def _score_output(self, output, y, sample_weight=None):
        """R² of ``output`` (averaged over outputs, as ``r2_score`` does)."""
        return coefficient_of_determination(y, output, sample_weight)

    def _after_fit(self, X, y, sample_weight, validation):
        """``noise_variance_`` from the validation rows, else the training rows."""
        try:
            if validation is not None:
                self.noise_variance_ = self._held_out_noise_variance(*validation)
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
        one that maximises the rows' log-likelihood (per output).
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
        with warnings.catch_warnings():
            # Capping max_iter at n_iter_ routinely ends before tol is met.
            warnings.simplefilter("ignore", ConvergenceWarning)
            auxiliary.fit(train[0], train[1], sample_weight=train[2])
        X_out, y_out, sw_out = held_out
        self.noise_variance_ = auxiliary._mean_squared_residual(X_out, y_out, sw_out)
        return self

    # -- public API -----------------------------------------------------
    @available_if(stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(
        self,
        X: MatrixLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
    ) -> Self:
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(
        self, X: MatrixLike, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predict with the whole network, or the Monte Carlo mean and std.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        return_std : bool, default=False
            If True, return the mean of 30 Monte Carlo dropout passes and
            the predictive standard deviation
            ``sqrt(var_mc + noise_variance_)``, where ``var_mc`` is the
            variance across the passes (the model's uncertainty, which
            shrinks where training data are dense) and ``noise_variance_``
            the constant noise variance estimated at fit time (the data's
            noise, the same for every row; see ``noise_variance_``). The passes are
            seeded from the fit, so repeated calls agree. For the model's
            part alone, use ``predict_samples(X).std(axis=0)``. Without
            dropout the passes agree and the std is
            ``sqrt(noise_variance_)`` everywhere.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions (the Monte Carlo mean with ``return_std=True``).
        y_std : ndarray of the same shape
            Predictive standard deviation; only with ``return_std=True``.
        """
        check_is_fitted(self)
        X = validate_numeric_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        if not isinstance(return_std, bool | np.bool_):
            raise InvalidParameterError(
                "The 'return_std' parameter of predict must be a bool. Got "
                f"{return_std!r:.100} instead."
            )
        if not return_std:
            return self._squeeze(self._forward(X))
        if not hasattr(self, "noise_variance_"):
            raise NotFittedError(
                f"This {type(self).__name__} has no noise_variance_ (a copy "
                "taken before its first fit ended, or a file saved without "
                "it): call estimate_noise_variance(X, y) or fit before "
                "predict(X, return_std=True)."
            )
        samples = self._monte_carlo_outputs(X, DEFAULT_MC_SAMPLES, self._mc_seed)
        mean, std = predictive_mean_std(samples, self.noise_variance_)
        return self._squeeze(mean), self._squeeze(std)

    def predict_samples(
        self,
        X: MatrixLike,
        n_samples: int = 30,
        random_state: RandomStateLike = None,
    ) -> np.ndarray:
        """Predictions of Monte Carlo dropout passes.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        n_samples : int, default=30
            Number of stochastic passes, each with fresh dropout masks.
        random_state : int, RandomState instance or None, default=None
            Seeds the masks; an int reproduces the samples.

        Returns
        -------
        samples : ndarray of shape (n_samples, n_rows) or \
                (n_samples, n_rows, n_outputs)
            Predictions of every pass.
        """
        check_is_fitted(self)
        X = validate_numeric_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        return self._squeeze(self._monte_carlo_outputs(X, n_samples, random_state))

    def _squeeze(self, output):
        return output[..., 0] if self.n_outputs_ == 1 else output


DropoutMLPRegressor.__doc__ = fill_shared_sections(DropoutMLPRegressor.__doc__)


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
