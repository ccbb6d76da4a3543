"""The epoch loop of the stochastic solvers: epochs of mini-batch steps and
the rule that stops them.

An :class:`EpochLoop` lives for one ``fit`` or ``partial_fit`` call. Each
epoch takes one step per batch (:func:`skdrop._core.training.train_on_batch`),
then judges the network: by the training loss, by its loss without dropout
(:class:`skdrop._core.training.DropoutFreeLoss`) or by the score of held-out
rows, recorded in one :class:`skdrop._core.training.NoImprovementTracker`.
The caller records and reports each epoch between :meth:`EpochLoop.train_epoch`
and :meth:`EpochLoop.end_epoch`.
"""

import math
from typing import NamedTuple

import numpy as np

from .concrete import mean_squared_residual
from .losses import LOSSES
from .training import DropoutFreeLoss, NonFiniteTrainingError, train_on_batch


class EpochRecord(NamedTuple):
    """What one epoch measured.

    Attributes
    ----------
    loss : float
        Mean loss, penalty included, of the epoch's training steps per row.
    dropout_free_loss : float or None
        The whole network's loss without dropout, on a sample of the
        training rows or on the held-out rows; ``None`` without dropout.
    validation_score : float or None
        The held-out rows' score; ``None`` without held-out rows.
    """

    loss: float
    dropout_free_loss: float | None
    validation_score: float | None


class EpochLoop:
    """Epochs of mini-batch steps on one network, and when to stop them.

    An epoch is two calls: :meth:`train_epoch` steps through every batch and
    judges the network, :meth:`end_epoch` moves the learning-rate schedule on
    and applies the stopping rule. The rule reads the held-out rows' score
    if there are any, else, under dropout, the loss without dropout (the
    loss of the steps is noisy), else the training loss. It fires after more
    than ``patience`` epochs in a row without an improvement of
    ``tracker.tol``; the optimiser then decides whether training stops.

    Parameters
    ----------
    network : Network
        The network to train, in place.
    optimizer : Optimizer
        Moves the parameters at each step.
    batches : EpochBatches
        The training rows.
    loss_name : str
        Key of :data:`skdrop._core.losses.LOSSES`.
    penalty : L2Penalty
    rng : numpy.random.Generator
        Shuffles the batches and, if the network has dropout, draws the
        masks.
    tracker : NoImprovementTracker
        The best value so far and the epochs without improvement, possibly
        from an earlier call (a warm start or ``partial_fit`` continues
        them). It tracks a score with held-out rows, else a loss.
    patience : int or float
        Epochs without improvement before the rule fires.
    patience_share : float, default=0.0
        The patience is also at least this share of the epochs run so far.
    rate_prior : RatePrior or None, default=None
        The regulariser of learned dropout rates; the held-out rows, if any,
        give it the squared residual.
    max_norm : float or None, default=None
        Bound on each hidden unit's incoming weights, kept after every step.
    validation : tuple of (X, y, sample_weight) or None, default=None
        Held-out rows, with ``y`` encoded as the network's output.
    score : callable or None, default=None
        ``score(output, y, sample_weight)``: the held-out rows' score of the
        network's output, higher is better. Required with ``validation``.
    selection : SelectionOptimism or None, default=None
        With held-out rows, told every epoch's output and whether it is the
        best so far, to measure how much that choice flatters those rows.

    Attributes
    ----------
    n_epochs : int
        Epochs trained so far.
    best_params : ndarray or None
        With held-out rows, the parameters of their best epoch so far.
    """

    def __init__(
        self,
        network,
        optimizer,
        batches,
        loss_name,
        penalty,
        rng,
        tracker,
        *,
        patience,
        patience_share=0.0,
        rate_prior=None,
        max_norm=None,
        validation=None,
        score=None,
        selection=None,
    ):
        self.network = network
        self.optimizer = optimizer
        self.batches = batches
        self.loss_name = loss_name
        self.penalty = penalty
        self.rng = rng
        self.noise_rng = rng if network.has_dropout else None
        self.tracker = tracker
        self.patience = patience
        self.patience_share = patience_share
        self.rate_prior = rate_prior
        self.max_norm = max_norm
        self.validation = validation
        self.score = score
        self.selection = selection
        self.monitor = None
        if network.has_dropout and validation is None:
            self.monitor = DropoutFreeLoss(
                batches.X, batches.y, batches.sample_weight, loss_name, penalty,
                batches.batch_size,
            )  # fmt: skip
        self.best_params = None if validation is None else network.params.copy()
        self.n_epochs = 0

    def train_epoch(self):
        """Take a step on every batch, then judge the network.

        Returns
        -------
        record : EpochRecord

        Raises
        ------
        NonFiniteTrainingError
            If the loss, the weights or the optimiser's state became infinite
            or NaN; the message names the epoch.
        """
        try:
            loss = self._step_through_batches()
            self._check_finite()
        except NonFiniteTrainingError as exc:
            raise NonFiniteTrainingError(
                f"{exc} in epoch {self.n_epochs + 1}"
            ) from None
        self.n_epochs += 1
        return self._judge(loss)

    def end_epoch(self, time_step, verbose=False):
        """Move the learning-rate schedule on and apply the stopping rule.

        Parameters
        ----------
        time_step : int
            Training rows seen so far, across calls.
        verbose : bool, default=False
            Whether the optimiser prints why a stalled run stops or goes on.

        Returns
        -------
        stops : bool
            Whether training stops. A stalled run that goes on (the
            ``'adaptive'`` schedule slows down instead) counts its epochs
            without improvement from zero again.
        """
        self.optimizer.iteration_ends(time_step)
        patience = max(self.patience, math.ceil(self.patience_share * self.n_epochs))
        if self.tracker.count <= patience:
            return False
        what = "Training loss" if self.validation is None else "Validation score"
        msg = (
            f"{what} did not improve more than tol={self.tracker.tol:f} for "
            f"{patience} consecutive epochs."
        )
        if self.optimizer.trigger_stopping(msg, verbose):
            return True
        self.tracker.count = 0
        return False

    def restore_best(self):
        """With held-out rows, put back the parameters of their best epoch."""
        if self.best_params is not None:
            self.network.params[...] = self.best_params

    def _step_through_batches(self):
        """One step per batch; return the mean loss of the steps per row."""
        total_loss = 0.0
        for X, y, sample_weight in self.batches.epoch(self.rng):
            if sample_weight is not None and not sample_weight.any():
                # A batch of zero total weight has no gradient (a mean over
                # it would divide by zero): skip it.
                continue
            loss = train_on_batch(
                self.network, self.optimizer, self.loss_name, self.penalty,
                X, y, sample_weight, self.noise_rng, self.rate_prior,
            )  # fmt: skip
            if self.max_norm is not None:
                self.network.apply_max_norm(self.max_norm)
            total_loss += loss * X.shape[0]
        return total_loss / self.batches.n_samples

    def _check_finite(self):
        if not np.isfinite(self.network.params).all():
            raise NonFiniteTrainingError("the weights became infinite or NaN")
        # An overflowed state can leave the weights finite but frozen.
        overflowed = self.optimizer.non_finite_state()
        if overflowed is not None:
            raise NonFiniteTrainingError(
                f"the optimizer's {overflowed} became infinite or NaN "
                f"(gradients too large for {self.network.dtype})"
            )

    def _judge(self, loss):
        """Record the epoch's value in the tracker; return what was measured."""
        if self.validation is not None:
            return self._judge_on_held_out_rows(loss)
        if self.monitor is None:
            self.tracker.record(loss)
            return EpochRecord(loss, None, None)
        dropout_free_loss = self.monitor(self.network)
        self.tracker.record(dropout_free_loss)
        return EpochRecord(loss, dropout_free_loss, None)

    def _judge_on_held_out_rows(self, loss):
        """One pass of the whole network over the held-out rows gives their
        score, the loss without dropout and the learned rates' noise."""
        X, y, sample_weight = self.validation
        output = self.network.predict(X)
        score = self.score(output, y, sample_weight)
        dropout_free_loss = None
        if self.network.has_dropout:
            dropout_free_loss = LOSSES[self.loss_name](y, output, sample_weight)
        if self.rate_prior is not None:
            self.rate_prior.held_out_squared_residual = mean_squared_residual(
                y, output, sample_weight
            )
        chosen = self.tracker.record(score)
        if chosen:
            self.best_params[...] = self.network.params
        if self.selection is not None:
            self.selection.record(output, chosen)
        return EpochRecord(loss, dropout_free_loss, score)
