"""Reporting training progress to scikit-learn's callbacks.

scikit-learn 1.9 ships an experimental callback API (:mod:`sklearn.callback`):
an estimator that mixes in ``CallbackSupportMixin`` gains ``set_callbacks``,
and its ``fit`` describes itself as a tree of tasks that callbacks such as
``ProgressBar`` and ``ScoringMonitor`` observe. Here a fit is one task with
one sub-task per epoch.

The API is experimental and absent from other scikit-learn versions, so
everything here degrades to doing nothing when it cannot be imported.
"""

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # pragma: no cover - only without sklearn.callback

    class CallbackSupportMixin:
        """Stand-in without the callback API: no ``set_callbacks``."""


# Attributes that scikit-learn's callback machinery sets on the estimator
# during a fit; they must outlive a fit that fails, so that the callbacks
# are still torn down.
CALLBACK_ATTRIBUTES = ("_callback_fit_ctx", "_skl_callbacks_to_teardown")


class FitProgress:
    """The callback tasks of one ``fit`` or ``partial_fit`` call.

    Parameters
    ----------
    estimator : BaseDropoutMLP
        The estimator being fitted.
    X, y : array-like
        The training data as the caller passed them, so that a scorer of a
        callback can evaluate the model on them.
    sample_weight : array-like or None
        Passed to the callbacks as metadata.
    max_epochs : int
        The most epochs this call can run; 0 for a fit without epochs.
    """

    def __init__(self, estimator, X, y, sample_weight, max_epochs):
        self._estimator = estimator
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        self._data = {"X": X, "y": y, "metadata": metadata}
        self._epoch = None
        self._root = None
        if _watched(estimator):
            self._root = estimator._init_callback_context(max_subtasks=max_epochs)
            self._root.call_on_fit_task_begin(estimator=estimator, **self._data)

    def epoch_begin(self):
        """Open the task of the next epoch."""
        if self._root is None:
            return
        self._epoch = self._root.subcontext(task_name="epoch")
        self._epoch.call_on_fit_task_begin(
            estimator=self._estimator,
            **self._data,
            reconstruction_attributes=self._current_weights,
        )

    def epoch_end(self):
        """Close the epoch's task; return whether a callback asks to stop."""
        if self._epoch is None:
            return False
        epoch, self._epoch = self._epoch, None
        return epoch.call_on_fit_task_end(
            estimator=self._estimator,
            **self._data,
            reconstruction_attributes=self._current_weights,
        )

    def fit_end(self):
        """Close the task of the whole call; the estimator is fitted."""
        if self._root is None:
            return
        self._root.call_on_fit_task_end(
            estimator=self._estimator, **self._data, reconstruction_attributes={}
        )

    def _current_weights(self):
        # Called lazily, only when a callback asks for a fitted estimator:
        # the weights are views that training keeps updating, so copy them.
        estimator = self._estimator
        weights = {
            "coefs_": [coef.copy() for coef in estimator.coefs_],
            "intercepts_": [bias.copy() for bias in estimator.intercepts_],
        }
        # Fitted statistics that depend on the weights (the regressor's
        # noise_variance_), so that the copy predicts like a fitted model.
        return weights | estimator._statistics_of_weights(weights, **self._data)


def _watched(estimator):
    """Whether any callback, own or from a meta-estimator, may watch this fit.

    Without one, no task tree is built: it would cost a context per epoch.
    """
    return hasattr(estimator, "_init_callback_context") and (
        getattr(estimator, "_skl_callbacks", None)
        or hasattr(estimator, "_parent_callback_ctx")
    )
