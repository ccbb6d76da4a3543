"""Mini-batch training of the estimators: the glue around the epoch loop.

``StochasticFitMixin`` is the part of ``BaseDropoutMLP`` that runs the
``'sgd'`` and ``'adam'`` solvers. The epochs themselves run in the core
(:class:`skdrop._core.epochs.EpochLoop`); here the estimator's parameters
become the loop's settings (the optimiser, the early-stopping rows, the
patience, the number of epochs), and each epoch is kept in the fitted
records (``loss_curve_``, ``validation_scores_``, ``best_loss_``, ``t_``),
printed, and reported to the callbacks.
"""

import math
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ._core.concrete import RatePrior
from ._core.epochs import EpochLoop
from ._core.optimizers import OPTIMIZERS
from ._core.training import EpochBatches, NoImprovementTracker, SelectionOptimism

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
        """Train by mini-batches; return the early-stopping rows and how much
        choosing the epoch on them flatters their error
        (``SelectionOptimism``), or ``(None, None)``."""
        optimizer = self._continued_optimizer(network, incremental)
        holds_out = self._holds_out_rows(X.shape[0], incremental)
        self._match_records_to_settings(holds_out)
        # As in scikit-learn, n_iter_ counts the epochs of this call only;
        # loss_curve_ and t_ accumulate across warm starts and partial fits.
        self.n_iter_ = 0
        validation, selection = None, None
        if holds_out:
            (X, y, sample_weight), validation = self._validation_split(
                X, y, sample_weight, rng
            )
            selection = SelectionOptimism(validation[1], validation[2])
        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples)
        steps_per_epoch = -(-n_samples // batch_size)
        self._start_dropout_free_curve(network.has_dropout)
        loop = EpochLoop(
            network,
            optimizer,
            EpochBatches(X, y, sample_weight, batch_size, self.shuffle),
            self._loss_name(),
            penalty,
            rng,
            self._no_improvement_tracker(holds_out),
            patience=self._patience(network, steps_per_epoch),
            # Held-out rows guard against overfitting, and a descent still
            # improving them after many epochs may improve them again: under
            # dropout, wait at least a share of the epochs run so far.
            patience_share=PATIENCE_SHARE if network.has_dropout and holds_out else 0.0,
            rate_prior=self._rate_prior(network, n_samples, y.shape[1], incremental),
            max_norm=self.max_norm,
            validation=validation,
            score=self._score_output,
            selection=selection,
        )
        max_epochs = self._epoch_budget(network.has_dropout, steps_per_epoch)
        try:
            for _ in range(max_epochs):
                progress.epoch_begin()
                self._record_epoch(loop.train_epoch(), n_samples)
                converged = loop.end_epoch(self.t_, self.verbose)
                self._record_tracker(loop.tracker)
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
        loop.restore_best()
        return validation, selection

    def _continued_optimizer(self, network, incremental):
        """The optimiser of this call: the previous call's for ``partial_fit``
        with the same solver and network, else a new one."""
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
        return self._optimizer

    def _start_dropout_free_curve(self, has_dropout):
        """``dropout_free_loss_curve_``: ``None`` without dropout, where the
        training loss is already well defined; under dropout, the curve of
        earlier calls goes on."""
        if not has_dropout:
            self.dropout_free_loss_curve_ = None
        elif not isinstance(getattr(self, "dropout_free_loss_curve_", None), list):
            self.dropout_free_loss_curve_ = []

    def _no_improvement_tracker(self, holds_out):
        """The stopping rule's tracker for this call, continuing the best
        value and count kept by earlier calls: the held-out score's if rows
        are held out, else the loss's."""
        best = self.best_validation_score_ if holds_out else self.best_loss_
        return NoImprovementTracker(
            self.tol, best, self._no_improvement_count, higher_is_better=holds_out
        )

    def _record_tracker(self, tracker):
        """Keep the tracker's state, which the next warm start or
        ``partial_fit`` continues from."""
        if tracker.higher_is_better:
            self.best_validation_score_ = tracker.best
        else:
            self.best_loss_ = tracker.best
        self._no_improvement_count = tracker.count

    def _rate_prior(self, network, n_samples, n_outputs, incremental):
        """The regulariser of the learned rates, ``None`` without any."""
        if not network.learned_rate_layers:
            return None
        return RatePrior(
            self._rows_seen(n_samples, incremental), self._loss_name(), n_outputs
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

    def _record_epoch(self, epoch, n_samples):
        """Add an epoch's :class:`~skdrop._core.epochs.EpochRecord` to the
        fitted records; print it with ``verbose``."""
        self.n_iter_ += 1
        self.loss_ = epoch.loss
        self.t_ += n_samples
        self.loss_curve_.append(epoch.loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {epoch.loss:.8f}")
        if epoch.dropout_free_loss is not None:
            self.dropout_free_loss_curve_.append(epoch.dropout_free_loss)
        if epoch.validation_score is not None:
            self.validation_scores_.append(epoch.validation_score)
            if self.verbose:
                print(f"Validation score: {epoch.validation_score:f}")
