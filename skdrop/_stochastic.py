"""Mini-batch training of the estimators: epochs, early stopping, records.

``StochasticFitMixin`` is the part of ``BaseDropoutMLP`` that runs the
``'sgd'`` and ``'adam'`` solvers: it splits off the early-stopping rows,
loops over epochs of mini-batches (the arithmetic of a step is
:func:`skdrop._core.training.train_on_batch`), and keeps the fitted records
(``loss_curve_``, ``validation_scores_``, ``best_loss_``, ``t_``).
"""

import math
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ._core.concrete import RatePrior, mean_squared_residual
from ._core.losses import LOSSES
from ._core.optimizers import OPTIMIZERS
from ._core.training import (
    DropoutFreeLoss,
    EpochBatches,
    NoImprovementTracker,
    NonFiniteTrainingError,
    train_on_batch,
)

# scikit-learn's default number of epochs, which max_iter='auto' keeps
# without dropout.
DEFAULT_MAX_ITER = 200
# Under dropout, max_iter='auto' allows at least this many optimiser steps,
# and the stopping rule waits at least MIN_PATIENCE_STEPS steps for an
# improvement; see docs/convergence.rst for the measurements behind them.
MIN_DROPOUT_STEPS = 20_000
MIN_PATIENCE_STEPS = 500
# With held-out rows under dropout, the patience is also at least this share
# of the epochs run so far.
PATIENCE_SHARE = 0.5
# Learned rates hold rows out only if at least this many would be held out.
MIN_LEARNED_HOLDOUT_ROWS = 10


class StochasticFitMixin:
    """The epoch loop of ``BaseDropoutMLP`` with a stochastic optimiser."""

    def _new_optimizer(self, network):
        return OPTIMIZERS[self.solver].from_parameters(
            network.params.size, network.dtype, self.get_params(deep=False)
        )

    def _holds_out_rows(self, n_samples, incremental=False):
        """Whether ``fit`` judges training on held-out validation rows:
        with ``early_stopping=True``, and with learned dropout rates, which
        need an outside view (the rates that fit the training rows best
        are the smallest; the held-out rows say when to stop and how large
        the noise is) unless fewer than ``MIN_LEARNED_HOLDOUT_ROWS`` rows
        would be held out. ``partial_fit`` never holds rows out."""
        if incremental:
            return False
        if self.early_stopping:
            return True
        n_held_out = math.ceil(self.validation_fraction * n_samples)
        return self._learns_rates() and n_held_out >= MIN_LEARNED_HOLDOUT_ROWS

    def _reset_records(self, holds_out=False):
        """Empty records of the epoch loop, tracking the validation score
        if rows are held out, else the loss."""
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if holds_out:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _match_records_to_settings(self, holds_out):
        """Make the records fit the settings of this call.

        A warm start or ``partial_fit`` after ``set_params`` changed
        ``early_stopping``, or the solver from ``'lbfgs'``, finds records
        kept for the old settings (or none): the loss curve carries on, and
        the tracking of the best loss or validation score starts afresh.
        """
        loss_curve = getattr(self, "loss_curve_", None)
        tracks_scores = isinstance(getattr(self, "validation_scores_", None), list)
        tracks_loss = getattr(self, "best_loss_", None) is not None
        if not isinstance(loss_curve, list):
            self._reset_records(holds_out)
        elif tracks_scores != holds_out or tracks_loss == holds_out:
            self._reset_records(holds_out)
            self.loss_curve_ = loss_curve

    def _batch_size(self, n_samples):
        if self.batch_size != "auto" and self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than "
                "sample size. It is going to be clipped",
                stacklevel=2,
            )
        return self._rows_per_batch(n_samples)

    def _rows_per_batch(self, n_samples):
        """Rows of a mini-batch: ``'auto'`` is ``min(200, n_samples)``."""
        if self.batch_size == "auto":
            return min(200, n_samples)
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
        previous = getattr(self, "_optimizer", None)
        if (
            not incremental
            or previous is None
            or previous.name != self.solver
            or previous.n_params not in (None, network.params.size)
        ):
            # partial_fit after set_params(solver=...) starts the new
            # optimiser's state afresh rather than step with the old one.
            self._optimizer = self._new_optimizer(network)
        self._optimizer.match_dtype(network.dtype)
        holds_out = self._holds_out_rows(X.shape[0], incremental)
        self._match_records_to_settings(holds_out)
        optimizer = self._optimizer
        # As in scikit-learn, n_iter_ counts the epochs of this call only;
        # loss_curve_ and t_ accumulate across warm starts and partial fits.
        self.n_iter_ = 0
        validation, best_params = None, None
        if holds_out:
            (X, y, sample_weight), validation = self._validation_split(
                X, y, sample_weight, rng
            )
            best_params = network.params.copy()
        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples)
        batches = EpochBatches(X, y, sample_weight, batch_size, self.shuffle)
        noise_rng = rng if network.has_dropout else None
        loss_name = self._loss_name()
        monitor = self._dropout_free_monitor(
            network, X, y, sample_weight, penalty, batch_size, validation
        )
        rate_prior = None
        if network.learned_rate_layers:
            rate_prior = RatePrior(
                self._rows_seen(n_samples, incremental), loss_name, y.shape[1]
            )
        steps_per_epoch = -(-n_samples // batch_size)
        patience = self._patience(network, steps_per_epoch)
        max_epochs = self._epoch_budget(network.has_dropout, steps_per_epoch)
        try:
            for _ in range(max_epochs):
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
                            X_batch, y_batch, sw_batch, noise_rng, rate_prior,
                        )  # fmt: skip
                        if self.max_norm is not None:
                            network.apply_max_norm(self.max_norm)
                        total_loss += loss * X_batch.shape[0]
                    if not np.isfinite(network.params).all():
                        raise NonFiniteTrainingError(
                            "the weights became infinite or NaN"
                        )
                    overflowed = optimizer.non_finite_state()
                    if overflowed is not None:
                        raise NonFiniteTrainingError(
                            f"the optimizer's {overflowed} became infinite or "
                            f"NaN (gradients too large for {network.dtype})"
                        )
                except NonFiniteTrainingError as exc:
                    raise NonFiniteTrainingError(
                        f"{exc} in epoch {self.n_iter_ + 1}"
                    ) from None
                converged = self._end_epoch(
                    network, optimizer, total_loss / n_samples, n_samples,
                    validation, best_params, monitor, patience, rate_prior,
                )  # fmt: skip
                # A callback may ask to stop, as a converged run does.
                if progress.epoch_end() or converged or incremental:
                    break
                if self.n_iter_ == max_epochs and getattr(
                    self, "_warns_at_max_iter", True
                ):
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({max_epochs}) "
                        "reached and the optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=2,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=2)
        if best_params is not None:
            network.params[...] = best_params
        return validation

    def _dropout_free_monitor(
        self, network, X, y, sample_weight, penalty, batch_size, validation
    ):
        """The stopping rule's objective under dropout: None without dropout,
        where the training loss is already well defined, and with held-out
        rows, whose loss is recorded instead (see :meth:`_end_epoch`)."""
        if not network.has_dropout:
            self.dropout_free_loss_curve_ = None
            return None
        if not isinstance(getattr(self, "dropout_free_loss_curve_", None), list):
            self.dropout_free_loss_curve_ = []
        if validation is not None:
            return None
        return DropoutFreeLoss(
            X, y, sample_weight, self._loss_name(), penalty, batch_size
        )

    def _rows_seen(self, n_samples, incremental):
        """Training rows ``N`` behind the learned rates' regulariser: this
        fit's rows, or every row ``partial_fit`` has seen so far."""
        if incremental:
            return self.t_ + n_samples
        return n_samples

    def _patience(self, network, steps_per_epoch):
        """Epochs without improvement before the stopping rule fires.

        ``n_iter_no_change`` epochs, as in scikit-learn. Under dropout, also
        at least ``MIN_PATIENCE_STEPS`` optimiser steps: a small data set
        makes few steps per epoch (two for 300 rows), too few for ten epochs
        to show whether a noisy descent has stalled.
        """
        if not network.has_dropout:
            return self.n_iter_no_change
        return max(self.n_iter_no_change, -(-MIN_PATIENCE_STEPS // steps_per_epoch))

    def _epoch_budget(self, has_dropout, steps_per_epoch):
        """The most epochs of this call: ``max_iter``, or for ``'auto'`` 200
        epochs (scikit-learn's default) and, under dropout, at least
        ``MIN_DROPOUT_STEPS`` optimiser steps."""
        if self.max_iter != "auto":
            return self.max_iter
        if not has_dropout:
            return DEFAULT_MAX_ITER
        return max(DEFAULT_MAX_ITER, -(-MIN_DROPOUT_STEPS // steps_per_epoch))

    def _end_epoch(
        self,
        network,
        optimizer,
        loss,
        n_samples,
        validation,
        best_params,
        monitor,
        patience,
        rate_prior,
    ):
        """Record an epoch; return whether training should stop.

        Without held-out rows, the stopping rule reads the training loss,
        or under dropout the ``monitor``'s loss without dropout. With them,
        it reads their score, and one pass of the whole network over them
        also gives the curve without dropout and the learned rates' unit.
        """
        self.n_iter_ += 1
        self.loss_ = loss
        self.t_ += n_samples
        self.loss_curve_.append(loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        judged = loss
        if monitor is not None:
            judged = monitor(network)
            self.dropout_free_loss_curve_.append(judged)
        if validation is None:
            tracker = NoImprovementTracker(
                self.tol, self.best_loss_, self._no_improvement_count, False
            )
            tracker.record(judged)
            self.best_loss_ = tracker.best
            what = "Training loss"
        else:
            X_val, y_val, sw_val = validation
            output = network.predict(X_val)
            score = self._score_output(output, y_val, sw_val)
            if self.dropout_free_loss_curve_ is not None:
                self.dropout_free_loss_curve_.append(
                    LOSSES[self._loss_name()](y_val, output, sw_val)
                )
            if rate_prior is not None:
                rate_prior.held_out_squared_residual = mean_squared_residual(
                    y_val, output, sw_val
                )
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
        if network.has_dropout and validation is not None:
            # Held-out rows guard against overfitting, and a descent still
            # improving them after many epochs may improve them again: wait
            # at least a share of the epochs run so far.
            patience = max(patience, math.ceil(PATIENCE_SHARE * self.n_iter_))
        if tracker.count <= patience:
            return False
        msg = (
            f"{what} did not improve more than tol={self.tol:f} for "
            f"{patience} consecutive epochs."
        )
        if optimizer.trigger_stopping(msg, self.verbose):
            return True
        self._no_improvement_count = 0
        return False
