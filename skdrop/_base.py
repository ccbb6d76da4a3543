"""The estimator layer shared by the classifier and the regressor.

``BaseDropoutMLP`` validates parameters and data and orchestrates ``fit``,
``partial_fit`` and ``warm_start``: it strings together the NumPy core
(:mod:`skdrop._network`, :mod:`skdrop._training`, :mod:`skdrop._optimizers`,
:mod:`skdrop._montecarlo`) and keeps the fitted attributes.
"""

import contextlib
import copy
import warnings
import zlib
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real
from typing import Self, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._activations import HIDDEN_ACTIVATIONS
from ._callbacks import CALLBACK_ATTRIBUTES, CallbackSupportMixin, FitProgress
from ._losses import OUTPUT_ACTIVATION_OF_LOSS
from ._montecarlo import check_finite_output, monte_carlo_outputs
from ._network import Network
from ._noise import NOISE
from ._optimizers import OPTIMIZERS, SOLVERS, L2Penalty
from ._persistence import PersistenceMixin
from ._training import (
    EpochBatches,
    NoImprovementTracker,
    NonFiniteTrainingError,
    minimize_lbfgs,
    train_on_batch,
)

# Type hints of the public methods: what scikit-learn's validation accepts.
MatrixLike: TypeAlias = npt.ArrayLike | sp.spmatrix | sp.sparray
RandomStateLike: TypeAlias = int | np.random.RandomState | None

# Monte Carlo passes used by ``predict(X, return_std=True)``.
DEFAULT_MC_SAMPLES = 30


def stochastic_solver(estimator):
    """``available_if`` check of ``partial_fit``: only for optimisers."""
    if estimator.solver not in OPTIMIZERS:
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers. "
            f"{estimator.solver} is not stochastic."
        )
    return True


class BaseDropoutMLP(
    PersistenceMixin, CallbackSupportMixin, BaseEstimator, metaclass=ABCMeta
):
    """Base class for the dropout MLP estimators; do not use it directly."""

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

    @abstractmethod
    def __init__(
        self,
        hidden_layer_sizes,
        activation,
        solver,
        alpha,
        batch_size,
        learning_rate,
        learning_rate_init,
        power_t,
        max_iter,
        loss,
        shuffle,
        random_state,
        tol,
        verbose,
        warm_start,
        momentum,
        nesterovs_momentum,
        early_stopping,
        validation_fraction,
        beta_1,
        beta_2,
        epsilon,
        n_iter_no_change,
        max_fun,
        dropout_rate,
        input_dropout_rate,
        dropout_type,
        max_norm,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout_rate = dropout_rate
        self.input_dropout_rate = input_dropout_rate
        self.dropout_type = dropout_type
        self.max_norm = max_norm

    # -- hooks for the subclasses ---------------------------------------
    @abstractmethod
    def _validate_input(self, X, y, incremental, reset):
        """Validate X and y; return X and the encoded 2-D targets."""

    @abstractmethod
    def _loss_name(self):
        """Name of the training loss (a key of ``skdrop._losses.LOSSES``)."""

    @abstractmethod
    def _stratify_labels(self, y):
        """Labels to stratify the early-stopping split by, or ``None``."""

    @abstractmethod
    def _score(self, X, y, sample_weight=None):
        """Validation score of the current weights, without dropout."""

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
        if self.dropout_type == "alpha" and self.activation != "selu" and any(rates):
            warnings.warn(
                "dropout_type='alpha' is designed for activation='selu', whose "
                "mean and variance it preserves; with "
                f"activation={self.activation!r} it does not keep activations "
                "normalised.",
                UserWarning,
                stacklevel=3,
            )

    # -- randomness -----------------------------------------------------
    def _training_generator(self, reset):
        """The generator that drives initialisation, shuffling, splits and masks.

        A new fit derives it from ``random_state``; ``partial_fit`` and
        ``warm_start`` continue the stream of the previous call, so successive
        calls never reuse the same masks.
        """
        if not reset and hasattr(self, "_rng_state"):
            bit_generator = np.random.PCG64()
            bit_generator.state = self._rng_state
            return np.random.Generator(bit_generator)
        return _generator_from(self.random_state)

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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
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
        with self._restored_on_error():
            progress = FitProgress(
                self, X, y, sample_weight, self._max_epochs(incremental)
            )
            return self._fit_unguarded(X, y, sample_weight, incremental, progress)

    def _max_epochs(self, incremental):
        """How many epochs this call may run, for the callbacks' task tree."""
        if self.solver not in OPTIMIZERS:
            return 0
        return 1 if incremental else self.max_iter

    def _fit_unguarded(self, X, y, sample_weight, incremental, progress):
        hidden_sizes = self._hidden_layer_sizes()
        rates = self._dropout_rates(len(hidden_sizes))
        self._check_dropout_settings(rates)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        reset = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=reset)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if sp.issparse(X):
            X = X.tocsr()
        layer_units = [X.shape[1], *hidden_sizes, y.shape[1]]
        if not reset:
            self._check_architecture(layer_units)

        rng = self._training_generator(reset)
        if reset:
            self._initialize(layer_units, X.dtype, rng)
        network = Network(layer_units, self.activation, self.out_activation_, X.dtype)
        network.load(self.coefs_, self.intercepts_)
        network.set_dropout(rates, self.dropout_type)
        self.coefs_, self.intercepts_ = network.coefs, network.intercepts
        penalty = L2Penalty(self.alpha, network.n_coef_params)
        validation = None
        try:
            if self.solver in OPTIMIZERS:
                validation = self._fit_stochastic(
                    network, penalty, X, y, sample_weight, rng, incremental, progress
                )
            else:
                self._fit_lbfgs(network, penalty, X, y, sample_weight)
            if not np.isfinite(network.params).all():
                raise NonFiniteTrainingError("the weights became infinite or NaN")
            self._after_fit(X, y, sample_weight, validation)
        except NonFiniteTrainingError as exc:
            raise ValueError(
                f"Training diverged: {exc}. The learning rate "
                f"(learning_rate_init={self.learning_rate_init}) is most likely "
                "too large, or the input data have very large values and need "
                "scaling. The estimator was left as it was before this call."
            ) from None
        self._rng_state = rng.bit_generator.state
        progress.fit_end()
        return self

    def _check_architecture(self, layer_units):
        expected = [c.shape[0] for c in self.coefs_] + [self.coefs_[-1].shape[1]]
        if layer_units != expected:
            raise ValueError(
                "The network shape changed since the previous call: layer sizes "
                f"{expected} were fitted, the data and hidden_layer_sizes now "
                f"give {layer_units}. Refit with warm_start=False."
            )

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
        self.out_activation_ = OUTPUT_ACTIVATION_OF_LOSS[self._loss_name()]
        network = Network(layer_units, self.activation, self.out_activation_, dtype)
        network.initialize(rng)
        self.coefs_, self.intercepts_ = network.coefs, network.intercepts
        if self.solver in OPTIMIZERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None
        self._optimizer = None

    def _new_optimizer(self, network):
        return OPTIMIZERS[self.solver].from_parameters(
            network.params.size, network.dtype, self.get_params(deep=False)
        )

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than "
                "sample size. It is going to be clipped",
                stacklevel=2,
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _validation_split(self, X, y, sample_weight, rng):
        """Hold out ``validation_fraction`` of the data, stratified by class."""
        arrays = [X, y] if sample_weight is None else [X, y, sample_weight]
        split = train_test_split(
            *arrays,
            random_state=int(rng.integers(np.iinfo(np.int32).max)),
            test_size=self.validation_fraction,
            stratify=self._stratify_labels(y),
        )
        train, val = split[0::2], split[1::2]
        if val[0].shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        if sample_weight is not None and not (train[2].any() and val[2].any()):
            part = "training" if not train[2].any() else "validation"
            raise ValueError(
                f"Every sample of the {part} part of the early-stopping split "
                "has zero weight, so it carries no information. Give more "
                "samples a non-zero sample_weight or change "
                "'validation_fraction'."
            )
        if sample_weight is None:
            train.append(None)
            val.append(None)
        return train, val

    def _fit_stochastic(
        self, network, penalty, X, y, sample_weight, rng, incremental, progress
    ):
        """Train by mini-batches; return the early-stopping rows, or ``None``."""
        if not incremental or getattr(self, "_optimizer", None) is None:
            self._optimizer = self._new_optimizer(network)
        optimizer = self._optimizer
        # As in scikit-learn, n_iter_ counts the epochs of this call only;
        # loss_curve_ and t_ accumulate across warm starts and partial fits.
        self.n_iter_ = 0
        validation, best_params = None, None
        if self.early_stopping:
            (X, y, sample_weight), validation = self._validation_split(
                X, y, sample_weight, rng
            )
            best_params = network.params.copy()
        n_samples = X.shape[0]
        batches = EpochBatches(
            X, y, sample_weight, self._batch_size(n_samples), self.shuffle
        )
        noise_rng = rng if network.has_dropout else None
        loss_name = self._loss_name()
        try:
            for _ in range(self.max_iter):
                progress.epoch_begin()
                total_loss = 0.0
                try:
                    for X_batch, y_batch, sw_batch in batches.epoch(rng):
                        if sw_batch is not None and not sw_batch.any():
                            # A batch of zero total weight has no gradient
                            # (a mean over it would divide by zero): skip it.
                            continue
                        loss = train_on_batch(
                            network, optimizer, loss_name, penalty,
                            X_batch, y_batch, sw_batch, noise_rng,
                        )  # fmt: skip
                        if self.max_norm is not None:
                            network.apply_max_norm(self.max_norm)
                        total_loss += loss * X_batch.shape[0]
                    if not np.isfinite(network.params).all():
                        raise NonFiniteTrainingError(
                            "the weights became infinite or NaN"
                        )
                except NonFiniteTrainingError as exc:
                    raise NonFiniteTrainingError(
                        f"{exc} in epoch {self.n_iter_ + 1}"
                    ) from None
                converged = self._end_epoch(
                    network, optimizer, total_loss / n_samples, n_samples,
                    validation, best_params,
                )  # fmt: skip
                # A callback may ask to stop, as a converged run does.
                if progress.epoch_end() or converged or incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                        "reached and the optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=2,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=2)
        if best_params is not None:
            network.params[...] = best_params
        return validation

    def _end_epoch(self, network, optimizer, loss, n_samples, validation, best_params):
        """Record an epoch; return whether training should stop."""
        self.n_iter_ += 1
        self.loss_ = loss
        self.t_ += n_samples
        self.loss_curve_.append(loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        if validation is None:
            tracker = NoImprovementTracker(
                self.tol, self.best_loss_, self._no_improvement_count, False
            )
            tracker.record(loss)
            self.best_loss_ = tracker.best
            what = "Training loss"
        else:
            score = self._score(*validation)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            tracker = NoImprovementTracker(
                self.tol, self.best_validation_score_, self._no_improvement_count, True
            )
            if tracker.record(score):
                best_params[...] = network.params
            self.best_validation_score_ = tracker.best
            what = "Validation score"
        self._no_improvement_count = tracker.count
        optimizer.iteration_ends(self.t_)
        if tracker.count <= self.n_iter_no_change:
            return False
        msg = (
            f"{what} did not improve more than tol={self.tol:f} for "
            f"{self.n_iter_no_change} consecutive epochs."
        )
        if optimizer.trigger_stopping(msg, self.verbose):
            return True
        self._no_improvement_count = 0
        return False

    def _fit_lbfgs(self, network, penalty, X, y, sample_weight):
        # scikit-learn's pinned SciPy takes no ``iprint``: verbose L-BFGS
        # prints nothing of its own.
        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        result = minimize_lbfgs(
            network, X, y, sample_weight, self._loss_name(), penalty, options
        )
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = float(result.fun)

    def _after_fit(self, X, y, sample_weight, validation):
        """Hook for subclasses: statistics computed once training is done.

        ``validation`` holds the early-stopping rows ``(X, y, sample_weight)``
        that training did not see, or ``None``. Raising
        ``NonFiniteTrainingError`` reports a diverged fit.
        """

    # -- prediction -----------------------------------------------------
    def _prediction_network(self, dtype):
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
        if given); see :func:`skdrop._montecarlo.monte_carlo_outputs`.
        """
        check_is_fitted(self)
        self._check_n_samples(n_samples)
        network = self._prediction_network(self.coefs_[0].dtype)
        network.set_dropout(
            self._dropout_rates(len(self.coefs_) - 1), self.dropout_type
        )
        rng = _generator_from(random_state)
        return monte_carlo_outputs(network, X, n_samples, rng, out)

    @property
    def _mc_seed(self):
        """Seed of the Monte Carlo passes behind ``predict(return_std=True)``.

        Derived from the output layer's weights, so repeated calls agree and
        every copy of a model (pickled, deep-copied, or handed to a callback
        during fit) has it, with no state to keep.
        """
        last = self.coefs_[-1].tobytes() + self.intercepts_[-1].tobytes()
        return zlib.crc32(last)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _generator_from(random_state):
    """A NumPy Generator seeded from a scikit-learn ``random_state``.

    ``None`` and ``RandomState`` instances draw the seed from that state,
    so the global seed and shared instances behave as in scikit-learn.
    """
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.Generator(np.random.PCG64(seed))
