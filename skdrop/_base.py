"""The estimator layer shared by the classifier and the regressor.

``BaseDropoutMLP`` validates parameters and data and orchestrates ``fit``,
``partial_fit`` and ``warm_start``: it strings together the NumPy core
(:mod:`skdrop._core.network`, :mod:`skdrop._core.training`,
:mod:`skdrop._core.optimizers`, :mod:`skdrop._core.montecarlo`) and keeps the fitted
attributes.
"""

import contextlib
import copy
import math
from abc import ABCMeta, abstractmethod
from typing import Self, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _num_samples, check_is_fitted, column_or_1d

from ._callbacks import CALLBACK_ATTRIBUTES, CallbackSupportMixin, FitProgress
from ._core.losses import LOSSES
from ._core.network import Network
from ._core.penalty import L2Penalty
from ._core.threads import blas_thread_limit, limited_blas_threads
from ._core.training import (
    NonFiniteTrainingError,
    minimize_lbfgs,
)
from ._docstrings import with_shared_sections
from ._fit_checks import check_continued_network, divergence_hint
from ._parameters import ParametersMixin
from ._persistence import PersistenceMixin
from ._prediction import PredictionMixin, generator_from
from ._stochastic import DEFAULT_MAX_ITER, StochasticFitMixin
from ._validation import (
    normalized_sample_weight,
    penalty_on_normalized_weights,
    validate_numeric_data,
)

# Type hints of the public methods: what scikit-learn's validation accepts.
MatrixLike: TypeAlias = npt.ArrayLike | sp.spmatrix | sp.sparray
RandomStateLike: TypeAlias = int | np.random.RandomState | None

# Monte Carlo passes used by ``predict(X, return_std=True)``.
DEFAULT_MC_SAMPLES = 30


def stochastic_solver(estimator):
    """``available_if`` check of ``partial_fit``: only for optimisers."""
    if not estimator._solver_is_stochastic():
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers. "
            f"{estimator.solver} is not stochastic."
        )
    return True


@with_shared_sections
class BaseDropoutMLP(
    ParametersMixin,
    PersistenceMixin,
    PredictionMixin,
    StochasticFitMixin,
    CallbackSupportMixin,
    BaseEstimator,
    metaclass=ABCMeta,
):
    """Base class for the dropout MLP estimators; do not use it directly."""

    def _store_parameters(self, arguments):
        """Store every ``__init__`` argument unchanged, under its own name.

        ``arguments`` is the ``locals()`` of the estimator's ``__init__``,
        taken before it sets anything else: scikit-learn reads the
        parameters from that signature, which is then the one list of them.
        The names come from ``arguments``, not from ``_get_param_names``, so
        that a user's subclass may add parameters and call this ``__init__``.
        """
        for name, value in arguments.items():
            if name != "self":
                setattr(self, name, value)

    # -- data -----------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset):
        """Validate X and y; return X and the encoded targets."""
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
        return X, self._encode_targets(y, X.dtype, incremental)

    def _prediction_input(self, X):
        """X validated against the features of the fitted model."""
        check_is_fitted(self)
        return validate_numeric_data(self, X, accept_sparse=["csr", "csc"], reset=False)

    # -- hooks for the subclasses ---------------------------------------
    @abstractmethod
    def _encode_targets(self, y, dtype, incremental):
        """Check the validated ``y``; return the targets training fits, as an
        array of ``dtype``."""

    @abstractmethod
    def _loss_name(self):
        """Name of the training loss (a key of ``skdrop._core.losses.LOSSES``)."""

    @abstractmethod
    def _stratify_labels(self, y):
        """Labels to stratify the early-stopping split by, or ``None``."""

    @abstractmethod
    def _score_output(self, output, y, sample_weight=None):
        """Validation score of the network's ``output`` for the encoded ``y``."""

    # -- randomness -----------------------------------------------------
    def _training_generator(self, reset):
        """The generator that drives initialisation, shuffling, splits and masks.

        A new fit derives it from ``random_state``; ``partial_fit`` and
        ``warm_start`` continue the stream of the previous call, so successive
        calls never reuse the same masks.
        """
        if not reset and getattr(self, "_rng_state", None) is not None:
            bit_generator = np.random.PCG64()
            bit_generator.state = self._rng_state
            return np.random.Generator(bit_generator)
        return generator_from(self.random_state)

    # -- fitting --------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X: MatrixLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
    ) -> Self:
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X_PARAMETER
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers
            in regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights: finite, non-negative and not all zero.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            If the data or parameters are invalid, or if training diverges
            (the loss or the weights become infinite or NaN). The estimator
            is then left exactly as it was before the call.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @contextlib.contextmanager
    def _restored_on_error(self):
        """Put the estimator back as it was if the block raises.

        A failed ``fit`` or ``partial_fit`` (invalid data, divergence, an
        exception raised from a callback) must not leave a half-updated
        model: a previously fitted state is kept, an unfitted estimator stays
        unfitted.
        """
        saved_state = self._snapshot()
        try:
            yield
        except BaseException:
            # The callbacks of this call still have to be torn down.
            live = {k: v for k, v in vars(self).items() if k in CALLBACK_ATTRIBUTES}
            self.__dict__.clear()
            self.__dict__.update(saved_state)
            self.__dict__.update(live)
            raise

    def _fit(self, X, y, sample_weight=None, incremental=False):
        if incremental and hasattr(self, "coefs_"):
            # scikit-learn's _fit_context skips this in partial_fit once
            # fitted, but set_params (or a loaded file) may have changed the
            # parameters since.
            self._validate_params()
        with self._restored_on_error():
            progress = FitProgress(
                self, X, y, sample_weight, self._max_epochs(X, incremental)
            )
            return self._fit_unguarded(X, y, sample_weight, incremental, progress)

    def _max_epochs(self, X, incremental):
        """How many epochs this call may run, for the callbacks' task tree
        (an upper bound: the rows held out are not known yet)."""
        if not self._solver_is_stochastic():
            return 0
        if incremental:
            return 1
        if self.max_iter != "auto":
            return self.max_iter
        try:
            n_rows = _num_samples(X)
        except TypeError:  # invalid data: fit refuses them in a moment
            return DEFAULT_MAX_ITER
        if self._holds_out_rows(n_rows):
            n_rows -= math.ceil(self.validation_fraction * n_rows)
        n_rows = max(n_rows, 1)
        return self._epoch_budget(True, -(-n_rows // self._rows_per_batch(n_rows)))

    def _fit_unguarded(self, X, y, sample_weight, incremental, progress):
        hidden_sizes = self._hidden_layer_sizes()
        rates = self._dropout_rates(len(hidden_sizes))
        self._check_dropout_settings(rates)
        self._check_max_norm()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        reset = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=reset)
        sample_weight = self._training_sample_weight(X, y, sample_weight, incremental)
        sample_weight, weight_scale = normalized_sample_weight(sample_weight, X)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if sp.issparse(X):
            X = X.tocsr()
        layer_units = [X.shape[1], *hidden_sizes, y.shape[1]]
        self._check_network_size(layer_units, X.dtype, self._rows_per_step(X.shape[0]))
        if not reset:
            check_continued_network(self, layer_units, self._loss_name())

        rng = self._training_generator(reset)
        if reset:  # one network per fit: drawn afresh, or loaded from coefs_
            network = self._initialize(layer_units, X.dtype, rng)
        else:
            network = Network(
                layer_units, self.activation, self.out_activation_, X.dtype
            )
            network.load(self.coefs_, self.intercepts_)
        network.set_dropout(rates, self.dropout_type, self.dropout_group_size)
        if not reset:
            self._restore_learned_rates(network)
        self.coefs_, self.intercepts_ = network.coefs, network.intercepts
        penalty = L2Penalty(
            penalty_on_normalized_weights(self.alpha, weight_scale),
            network.n_coef_params,
        )
        validation, selection = None, None
        threads = blas_thread_limit(layer_units, self._rows_per_step(X.shape[0]))
        try:
            with limited_blas_threads(threads):
                if self._solver_is_stochastic():
                    validation, selection = self._fit_stochastic(
                        network,
                        penalty,
                        X,
                        y,
                        sample_weight,
                        rng,
                        incremental,
                        progress,
                    )
                else:
                    self._fit_lbfgs(network, penalty, X, y, sample_weight)
            if not np.isfinite(network.params).all():
                raise NonFiniteTrainingError("the weights became infinite or NaN")
            self._record_dropout_rates(network)
            self._after_fit(X, y, sample_weight, validation, selection)
        except NonFiniteTrainingError as exc:
            raise ValueError(
                f"Training diverged: {exc}. {divergence_hint(self, X, y)} The "
                "estimator was left as it was before this call."
            ) from None
        self._rng_state = rng.bit_generator.state
        progress.fit_end()
        return self

    def _restore_learned_rates(self, network):
        """A warm start or ``partial_fit`` goes on from the rates learned so far."""
        fitted = getattr(self, "dropout_rates_", None)
        if fitted is None:
            return
        rates = [self.input_dropout_rate_, *fitted]
        network.load_learned_rates([rates[i] for i, _ in network.learned_rate_layers])

    def _record_dropout_rates(self, network):
        """The rates the network was trained with, learned or fixed."""
        rates = network.dropout_rates
        self.input_dropout_rate_ = rates[0]
        self.dropout_rates_ = np.array(rates[1:])
        self._learned_rate_layers = [i for i, _ in network.learned_rate_layers]

    def _rows_per_step(self, n_samples):
        """Rows of one forward pass in training: a mini-batch, or all for L-BFGS."""
        if not self._solver_is_stochastic():
            return n_samples
        return self._rows_per_batch(n_samples)

    def _snapshot(self):
        """A copy of the fitted state that training mutates in place."""
        state = dict(self.__dict__)
        for key in ("loss_curve_", "validation_scores_"):
            if isinstance(state.get(key), list):
                state[key] = list(state[key])
        if "_optimizer" in state:
            state["_optimizer"] = copy.deepcopy(state["_optimizer"])
        return state

    def _initialize(self, layer_units, dtype, rng):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = layer_units[-1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = LOSSES[self._loss_name()].output_activation
        network = Network(layer_units, self.activation, self.out_activation_, dtype)
        network.initialize(rng)
        self.coefs_, self.intercepts_ = network.coefs, network.intercepts
        if self._solver_is_stochastic():
            self._reset_records()
        self._optimizer = None
        return network

    def _fit_lbfgs(self, network, penalty, X, y, sample_weight):
        # scikit-learn's pinned SciPy takes no ``iprint``: verbose L-BFGS
        # prints nothing of its own.
        max_iter = DEFAULT_MAX_ITER if self.max_iter == "auto" else self.max_iter
        options = {"maxfun": self.max_fun, "maxiter": max_iter, "gtol": self.tol}
        result = minimize_lbfgs(
            network, X, y, sample_weight, self._loss_name(), penalty, options
        )
        self.n_iter_ = _check_optimize_result("lbfgs", result, max_iter)
        self.loss_ = float(result.fun)

    def _after_fit(self, X, y, sample_weight, validation, selection):
        """Hook for subclasses: statistics computed once training is done.

        ``validation`` holds the early-stopping rows ``(X, y, sample_weight)``
        that training did not see, or ``None``; ``selection`` measures how
        much choosing the epoch on them flatters their error
        (``SelectionOptimism``), or is ``None``. Raising
        ``NonFiniteTrainingError`` reports a diverged fit.
        """

    def _statistics_of_weights(self, weights, X, y, metadata):
        """Fitted attributes besides the weights for a copy taken mid-fit.

        ``weights`` holds ``coefs_`` and ``intercepts_`` of the copy; X, y
        and ``metadata`` are the data as the caller passed them.
        """
        return {}

    def _training_sample_weight(self, X, y, sample_weight, incremental):
        """Hook for subclasses: the row weights training uses.

        ``y`` is encoded as ``_validate_input`` returns it; ``sample_weight``
        is as the caller passed it (the classifier multiplies in its class
        weights).
        """
        return sample_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
