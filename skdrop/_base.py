"""The estimator layer shared by the classifier and the regressor.

``BaseDropoutMLP`` validates parameters and data, owns the training loop
(epochs, mini-batches, early stopping, ``partial_fit`` and ``warm_start``)
and Monte Carlo prediction. The arithmetic lives in :mod:`skdrop._network`.
"""

import contextlib
import copy
import math
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real
from typing import Self, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning, InconsistentVersionWarning
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
from ._dropout import DROPOUT_TYPES
from ._network import Network
from ._optimizers import SGD, Adam, optimizer_from_state, optimizer_to_state
from ._version import __version__

STOCHASTIC_SOLVERS = ("sgd", "adam")

# Type hints of the public methods: what scikit-learn's validation accepts.
MatrixLike: TypeAlias = npt.ArrayLike | sp.spmatrix | sp.sparray
RandomStateLike: TypeAlias = int | np.random.RandomState | None

# Monte Carlo passes used by ``predict(X, return_std=True)``.
DEFAULT_MC_SAMPLES = 30


class NonFiniteTrainingError(ValueError):
    """Training produced a non-finite loss or non-finite weights."""


class InconsistentSkdropVersionWarning(InconsistentVersionWarning):
    """An estimator is unpickled with a skdrop version other than its own.

    A subclass of scikit-learn's ``InconsistentVersionWarning``, so a filter
    on that warning also covers this one.
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        super().__init__(
            estimator_name=estimator_name,
            current_sklearn_version=current_version,
            original_sklearn_version=original_version,
        )

    def __str__(self):
        return (
            f"Trying to unpickle estimator {self.estimator_name} from skdrop "
            f"version {self.original_sklearn_version} when using version "
            f"{self.current_sklearn_version}. This might lead to breaking code "
            "or invalid results. Use at your own risk. Refit the estimator "
            "with the installed version, or install the version it was "
            "saved with."
        )


class BaseDropoutMLP(CallbackSupportMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class for the dropout MLP estimators; do not use it directly."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
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
        "dropout_type": [StrOptions(set(DROPOUT_TYPES))],
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
    def _output_activation(self):
        """Name of the output activation for the encoded targets."""

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
    def _training_generator(self, continue_stream):
        """The generator that drives initialisation, shuffling, splits and masks.

        A new fit derives it from ``random_state``; ``partial_fit`` and
        ``warm_start`` continue the stream of the previous call, so successive
        calls never reuse the same masks.
        """
        if continue_stream and hasattr(self, "_rng_state"):
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
        if self.solver not in STOCHASTIC_SOLVERS:
            return 0
        return 1 if incremental else self.max_iter

    def _fit_unguarded(self, X, y, sample_weight, incremental, progress):
        hidden_sizes = self._hidden_layer_sizes()
        rates = self._dropout_rates(len(hidden_sizes))
        self._check_dropout_settings(rates)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if sp.issparse(X):
            X = X.tocsr()
        layer_units = [X.shape[1], *hidden_sizes, y.shape[1]]
        if not first_pass:
            self._check_architecture(layer_units)

        rng = self._training_generator(continue_stream=not first_pass)
        if first_pass:
            self._initialize(layer_units, X.dtype, rng)
        network = Network(layer_units, self.activation, self.out_activation_, X.dtype)
        network.load(self.coefs_, self.intercepts_)
        network.set_dropout(rates, self.dropout_type)
        self.coefs_, self.intercepts_ = network.coefs, network.intercepts
        try:
            if self.solver in STOCHASTIC_SOLVERS:
                self._fit_stochastic(
                    network, X, y, sample_weight, rng, incremental, progress
                )
            else:
                self._fit_lbfgs(network, X, y, sample_weight)
            if not np.isfinite(network.params).all():
                raise NonFiniteTrainingError("the weights became infinite or NaN")
        except NonFiniteTrainingError as exc:
            raise ValueError(
                f"Training diverged: {exc}. The learning rate "
                f"(learning_rate_init={self.learning_rate_init}) is most likely "
                "too large, or the input data have very large values and need "
                "scaling. The estimator was left as it was before this call."
            ) from None
        self._rng_state = rng.bit_generator.state
        self._mc_seed = int(rng.integers(np.iinfo(np.int32).max))
        self._after_fit(network, X, y, sample_weight)
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
        self.out_activation_ = self._output_activation()
        network = Network(layer_units, self.activation, self.out_activation_, dtype)
        network.initialize(rng)
        self.coefs_, self.intercepts_ = network.coefs, network.intercepts
        if self.solver in STOCHASTIC_SOLVERS:
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
        n_params, dtype = network.params.size, network.dtype
        if self.solver == "sgd":
            return SGD(
                n_params,
                dtype,
                self.learning_rate_init,
                self.learning_rate,
                self.momentum,
                self.nesterovs_momentum,
                self.power_t,
            )
        return Adam(
            n_params,
            dtype,
            self.learning_rate_init,
            self.beta_1,
            self.beta_2,
            self.epsilon,
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

    def _fit_stochastic(self, network, X, y, sample_weight, rng, incremental, progress):
        if not incremental or getattr(self, "_optimizer", None) is None:
            self._optimizer = self._new_optimizer(network)
        optimizer = self._optimizer
        # As in scikit-learn, n_iter_ counts the epochs of this call only;
        # loss_curve_ and t_ accumulate across warm starts and partial fits.
        self.n_iter_ = 0
        if self.early_stopping:
            (X, y, sample_weight), validation = self._validation_split(
                X, y, sample_weight, rng
            )
            self._best_params = network.params.copy()
        else:
            validation = None
        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples)
        batches = _EpochBatches(X, y, sample_weight, batch_size, self.shuffle)
        network_rng = rng if network.has_dropout else None
        try:
            for _ in range(self.max_iter):
                accumulated_loss = 0.0
                progress.epoch_begin()
                for X_batch, y_batch, sw_batch in batches.epoch(rng):
                    if sw_batch is not None and not sw_batch.any():
                        # A batch of zero total weight has no gradient (and
                        # a mean over it would divide by zero): skip it.
                        continue
                    batch_loss = self._train_on_batch(
                        network, optimizer, X_batch, y_batch, sw_batch, network_rng
                    )
                    accumulated_loss += batch_loss * X_batch.shape[0]
                if not np.isfinite(network.params).all():
                    raise NonFiniteTrainingError(
                        "the weights became infinite or NaN in epoch "
                        f"{self.n_iter_ + 1}"
                    )
                converged = self._end_epoch(
                    network, optimizer, accumulated_loss, n_samples, validation
                )
                # A callback may ask to stop, as a converged run does.
                if progress.epoch_end() or converged:
                    break
                if incremental:
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
        if self.early_stopping:
            network.params[...] = self._best_params

    def _train_on_batch(self, network, optimizer, X, y, sample_weight, rng):
        """One optimiser step on a batch; return the batch's loss."""
        # The optimiser handles the L2 penalty (its gradient and its value)
        # block by block as it updates, in cache, rather than in passes of
        # their own over the weights.
        loss, weight_sum = network.train_step_gradient(
            X, y, sample_weight, self._loss_name(), self.alpha, rng, with_penalty=False
        )
        decay = self.alpha / weight_sum
        squared_norm = optimizer.step(
            network.params, network.grad, decay, network.n_coef_params
        )
        loss += 0.5 * decay * squared_norm
        # A failed fit restores the estimator, so checking after the step
        # is as safe as before it.
        if not math.isfinite(loss):
            raise NonFiniteTrainingError(
                f"the loss became {loss} in epoch {self.n_iter_ + 1}"
            )
        if self.max_norm is not None:
            network.apply_max_norm(self.max_norm)
        return loss

    def _end_epoch(self, network, optimizer, accumulated_loss, n_samples, validation):
        """Record an epoch; return whether training should stop."""
        self.n_iter_ += 1
        self.loss_ = accumulated_loss / n_samples
        self.t_ += n_samples
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
        self._update_no_improvement_count(network, validation)
        optimizer.iteration_ends(self.t_)
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        if self.early_stopping:
            msg = (
                "Validation score did not improve more than "
                f"tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs."
            )
        else:
            msg = (
                f"Training loss did not improve more than tol={self.tol:f}"
                f" for {self.n_iter_no_change} consecutive epochs."
            )
        if optimizer.trigger_stopping(msg, self.verbose):
            return True
        self._no_improvement_count = 0
        return False

    def _update_no_improvement_count(self, network, validation):
        if validation is not None:
            X_val, y_val, sw_val = validation
            score = self._score(X_val, y_val, sw_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params[...] = network.params
            return
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])

    def _fit_lbfgs(self, network, X, y, sample_weight):
        loss_name = self._loss_name()

        def loss_and_gradient(packed):
            network.params[...] = packed
            loss, _ = network.train_step_gradient(
                X, y, sample_weight, loss_name, self.alpha, None
            )
            return loss, network.grad.astype(np.float64)

        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        result = scipy.optimize.minimize(
            loss_and_gradient,
            network.params.astype(np.float64),
            method="L-BFGS-B",
            jac=True,
            options={
                "maxfun": self.max_fun,
                "maxiter": self.max_iter,
                "gtol": self.tol,
                **({"iprint": iprint} if _lbfgs_takes_iprint() else {}),
            },
        )
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = float(result.fun)
        network.params[...] = result.x
        if not math.isfinite(self.loss_):
            raise NonFiniteTrainingError(f"the loss became {self.loss_}")

    def _after_fit(self, network, X, y, sample_weight):
        """Hook for subclasses: statistics computed once training is done."""

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
        _check_finite_output(output)
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
        """Network outputs of ``n_samples`` passes with dropout switched on.

        Returns an array of shape ``(n_samples, n_rows, n_outputs)`` (``out``
        if given); each pass draws fresh masks for every row, in row chunks.
        """
        check_is_fitted(self)
        self._check_n_samples(n_samples)
        network = self._prediction_network(self.coefs_[0].dtype)
        rates = self._dropout_rates(len(self.coefs_) - 1)
        network.set_dropout(rates, self.dropout_type)
        rng = _generator_from(random_state)
        noise_rng = rng if network.has_dropout else None
        samples = out
        if samples is None:
            samples = np.empty(
                (n_samples, X.shape[0], self.n_outputs_), dtype=network.dtype
            )
        passes_per_forward = network.predict_chunk_rows() // max(X.shape[0], 1)
        if passes_per_forward < 2:
            for sample in samples:
                network.predict(X, noise_rng, out=sample)
        else:
            _stacked_passes(network, X, noise_rng, samples, passes_per_forward)
        _check_finite_output(samples)
        return samples

    # -- persistence ----------------------------------------------------
    def __getstate__(self):
        """The pickled state records the skdrop version, as scikit-learn's does."""
        state = dict(super().__getstate__(), _skdrop_version=__version__)
        # The optimiser is saved as a plain dict so that skops only needs
        # to trust the estimator class.
        if state.get("_optimizer") is not None:
            state["_optimizer"] = optimizer_to_state(state["_optimizer"])
        return state

    def __setstate__(self, state):
        """Restore a pickled state; warn if another skdrop version saved it."""
        state = dict(state)
        pickle_version = state.pop("_skdrop_version", "unknown (older than 0.1.0)")
        if pickle_version != __version__:
            warnings.warn(
                InconsistentSkdropVersionWarning(
                    estimator_name=type(self).__name__,
                    current_version=__version__,
                    original_version=pickle_version,
                ),
                stacklevel=2,
            )
        if isinstance(state.get("_optimizer"), dict):
            state["_optimizer"] = optimizer_from_state(state["_optimizer"])
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _EpochBatches:
    """Mini-batches of (X, y, sample_weight), reshuffled every epoch.

    With shuffling, the rows of each dense batch are gathered into reused
    batch-sized buffers: no per-batch allocation, and no shuffled copy of the
    whole data set. A yielded batch is valid until the next one is drawn.
    """

    def __init__(self, X, y, sample_weight, batch_size, shuffle):
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.n_samples = X.shape[0]
        self._buffers = None

    def epoch(self, rng):
        order = rng.permutation(self.n_samples) if self.shuffle else None
        for start in range(0, self.n_samples, self.batch_size):
            stop = min(start + self.batch_size, self.n_samples)
            if order is None:
                yield self._rows(slice(start, stop))
            else:
                yield self._gathered(order[start:stop])

    def _rows(self, rows):
        sw = self.sample_weight
        return self.X[rows], self.y[rows], None if sw is None else sw[rows]

    def _gathered(self, index):
        if sp.issparse(self.X):
            return self._rows(index)
        if self._buffers is None:
            self._buffers = [
                None
                if a is None
                else np.empty((self.batch_size, *a.shape[1:]), a.dtype)
                for a in (self.X, self.y, self.sample_weight)
            ]
        # mode="clip": with the default mode="raise", take copies through a
        # hidden temporary; the indices are a permutation, never out of range.
        return tuple(
            None
            if a is None
            else np.take(a, index, axis=0, out=buffer[: len(index)], mode="clip")
            for a, buffer in zip(
                (self.X, self.y, self.sample_weight), self._buffers, strict=True
            )
        )


def _check_finite_output(output):
    """Refuse to return an output that overflowed to infinity or NaN."""
    # min and max propagate NaN and need no temporary as large as the output.
    if output.size and not (np.isfinite(output.min()) and np.isfinite(output.max())):
        raise ValueError(
            "The network's output contains infinity or NaN: an activation "
            "overflowed. The input values are too large for the fitted "
            "weights (or the weights are not finite); scale the input data."
        )


def _stacked_passes(network, X, rng, samples, passes_per_forward):
    """Fill ``samples`` with several Monte Carlo passes per forward call.

    Few rows make a forward call mostly per-call overhead, so the rows are
    repeated to stack several passes into one batch of at most a prediction
    chunk; every repeated row still draws its own masks.
    """
    n_samples, n_rows = samples.shape[:2]
    repeats = min(passes_per_forward, n_samples)
    stacked = (
        sp.vstack([X] * repeats, format="csr")
        if sp.issparse(X)
        else np.tile(X, (repeats, 1))
    )
    for start in range(0, n_samples, repeats):
        stop = min(start + repeats, n_samples)
        output = network.forward(stacked[: (stop - start) * n_rows], rng)
        samples[start:stop] = output.reshape(stop - start, n_rows, -1)


def _generator_from(random_state):
    """A NumPy Generator seeded from a scikit-learn ``random_state``.

    ``None`` and ``RandomState`` instances draw the seed from that state,
    so the global seed and shared instances behave as in scikit-learn.
    """
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.Generator(np.random.PCG64(seed))


def _lbfgs_takes_iprint():
    """SciPy deprecated L-BFGS-B's ``iprint`` option in 1.15."""
    from scipy import __version__

    major, minor = (int(part) for part in __version__.split(".")[:2])
    return (major, minor) < (1, 15)
