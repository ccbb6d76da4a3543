"""DropoutMLPClassifier: label encoding, output activation, probabilities."""

from typing import Self

import numpy as np
import numpy.typing as npt
from scipy.special import log_expit, log_softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
)

from ._base import (
    BaseDropoutMLP,
    MatrixLike,
    RandomStateLike,
    stochastic_solver,
)
from ._class_weight import CLASS_WEIGHT_CONSTRAINT, weighted_by_class
from ._core.montecarlo import check_finite_output
from ._docstrings import with_shared_sections
from ._validation import (
    check_continued_labels,
    checked_labels,
    indicator_columns,
    target_type,
)


@with_shared_sections
class DropoutMLPClassifier(ClassifierMixin, BaseDropoutMLP):
    """Multi-layer perceptron classifier trained with dropout.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`:
    every parameter of scikit-learn's classifier has the same name, default
    and meaning here, and the dropout parameters come on top. During
    training, each hidden unit (and, with ``input_dropout_rate``, each input
    feature) is dropped at every mini-batch with probability ``p`` and the
    kept units are scaled by ``1 / (1 - p)`` (inverted dropout); prediction
    uses the whole network, unscaled and deterministic.

    Parameters
    ----------
    MLP_PARAMETERS
    dropout_rate : float, sequence of float or 'auto', default=0.5
        Probability of dropping each hidden unit at every training step,
        in [0, 1); a sequence gives one rate per hidden layer, and ``'auto'``
        learns one rate per hidden layer (see Notes). Bernoulli and alpha
        rates are realised to a resolution of 1/65536.
    DROPOUT_PARAMETERS
    CLASS_WEIGHT_PARAMETER

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    SHARED_ATTRIBUTES
    out_activation_ : str
        Output activation: ``'softmax'`` or ``'logistic'``.

    See Also
    --------
    DropoutMLPRegressor : The regressor with the same dropout parameters.
    sklearn.neural_network.MLPClassifier : The classifier this one replaces.

    Notes
    -----
    SHARED_NOTES

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skdrop import DropoutMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(
    ...     StandardScaler(), DropoutMLPClassifier(max_iter=300, random_state=0)
    ... ).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> clf.score(X, y) > 0.85
    True
    """

    # Not a parameter: the loss follows from the targets (``_loss_name``).
    # It is kept readable as ``loss``, as on scikit-learn's MLPClassifier.
    loss = "log_loss"

    def __init__(
        self,
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
        dropout_rate=0.5,
        input_dropout_rate=0.0,
        dropout_type="bernoulli",
        max_norm=None,
        dropout_group_size=None,
        class_weight=None,
    ):
        self._store_parameters(locals())

    _parameter_constraints: dict = {
        **BaseDropoutMLP._parameter_constraints,
        "class_weight": CLASS_WEIGHT_CONSTRAINT,
    }

    # -- data -----------------------------------------------------------
    def _encode_targets(self, y, dtype, incremental):
        """The labels as indicator columns (one for two classes)."""
        y = checked_labels(y)
        check_classification_targets(y)
        self._update_classes(y, incremental)
        return self._label_binarizer.transform(y).astype(dtype)

    def _update_classes(self, y, incremental):
        """Learn the classes, or check y against those already learnt."""
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
            return
        check_continued_labels(self, y, incremental)

    def _loss_name(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return "log_loss"
        return "binary_log_loss"

    def _stratify_labels(self, y):
        if target_type(self).startswith("multilabel"):
            return None
        return y.argmax(axis=1) if y.shape[1] > 1 else y.ravel()

    def _training_sample_weight(self, X, y, sample_weight, incremental):
        """``sample_weight`` times the weight of each row's class."""
        return weighted_by_class(
            self,
            X,
            y,
            sample_weight,
            multilabel=target_type(self).startswith("multilabel"),
            incremental=incremental,
        )

    def _score_output(self, output, y, sample_weight=None):
        """Accuracy of the network's ``output`` against the encoded ``y``.

        Compared in the encoding, as the labels would be: the largest
        probability for several classes, a 0.5 threshold per output
        otherwise (all outputs must match for a multilabel row).
        """
        if self._label_binarizer.y_type_ == "multiclass":
            correct = output.argmax(axis=1) == y.argmax(axis=1)
        else:
            correct = ((output > 0.5) == (y > 0.5)).all(axis=1)
        return float(np.average(correct, weights=sample_weight))

    def _labels_from(self, output):
        if self.n_outputs_ == 1:
            output = output.ravel()
        return self._label_binarizer.inverse_transform(output)

    # -- public API -----------------------------------------------------
    @available_if(stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(
        self,
        X: MatrixLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
        classes: npt.ArrayLike | None = None,
    ) -> Self:
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X_PARAMETER
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            The target labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array-like of shape (n_classes,), default=None
            Every class that any call may see; required on the first call
            (for a multilabel indicator ``y`` it may be omitted).

        Returns
        -------
        self : object
            The updated estimator.
        """
        with self._restored_on_error():
            if classes is None and not hasattr(self, "classes_"):
                classes = indicator_columns(y)
            if _check_partial_fit_first_call(self, classes):
                self._label_binarizer = LabelBinarizer()
                if type_of_target(y).startswith("multilabel"):
                    self._label_binarizer.fit(y)
                else:
                    self._label_binarizer.fit(classes)
            return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X: MatrixLike) -> np.ndarray:
        """Predict class labels with the whole network (no dropout).

        Parameters
        ----------
        X_PARAMETER

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            The predicted classes.
        """
        X = self._prediction_input(X)
        return self._labels_from(self._forward(X))

    def predict_proba(self, X: MatrixLike) -> np.ndarray:
        """Class probabilities of the whole network (no dropout).

        Parameters
        ----------
        X_PARAMETER

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns ordered as ``classes_``.
        """
        X = self._prediction_input(X)
        if self._single_class():
            return np.ones((X.shape[0], 1), dtype=self.coefs_[0].dtype)
        if self._is_binary():
            # Write P(class 1) straight into the second column of the result:
            # no temporary as large as the output.
            proba = np.empty((X.shape[0], 2), dtype=self.coefs_[0].dtype)
            network = self._prediction_network(proba.dtype)
            network.predict(X, out=proba[:, 1:])
            check_finite_output(proba[:, 1])
            np.subtract(1, proba[:, 1], out=proba[:, 0])
            return proba
        return self._forward(X)

    def predict_log_proba(self, X: MatrixLike) -> np.ndarray:
        """Log of the class probabilities, computed from the logits.

        Working from the logits keeps the result finite where a probability
        underflows to 0.

        Parameters
        ----------
        X_PARAMETER

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns ordered as ``classes_``.
        """
        X = self._prediction_input(X)
        if self._single_class():
            return np.zeros((X.shape[0], 1), dtype=self.coefs_[0].dtype)
        network = self._prediction_network(self.coefs_[0].dtype)
        logits = network.predict(X, output_activation=False)
        check_finite_output(logits)
        if self.out_activation_ == "softmax":
            return log_softmax(logits, axis=1)
        if self.n_outputs_ == 1:
            return np.hstack([log_expit(-logits), log_expit(logits)])
        return log_expit(logits)

    def predict_samples(
        self,
        X: MatrixLike,
        n_samples: int = 30,
        random_state: RandomStateLike = None,
    ) -> np.ndarray:
        """Class probabilities of Monte Carlo dropout passes.

        Each pass keeps dropout switched on as in training, so each is the
        prediction of one thinned network; their spread shows the model's
        uncertainty.

        Parameters
        ----------
        X_PARAMETER
        n_samples : int, default=30
            Number of stochastic passes.
        random_state : int, RandomState instance or None, default=None
            Seeds the masks; an int reproduces the samples.

        Returns
        -------
        proba_samples : ndarray of shape (n_samples, n_rows, n_classes)
            Probabilities of every pass.
        """
        X = self._prediction_input(X)
        if self._single_class():
            self._check_n_samples(n_samples)
            return np.ones((n_samples, X.shape[0], 1), dtype=self.coefs_[0].dtype)
        if not self._is_binary():
            return self._monte_carlo_outputs(X, n_samples, random_state)
        # P(class 1) goes straight into the second column of the result.
        self._check_n_samples(n_samples)
        proba = np.empty((n_samples, X.shape[0], 2), dtype=self.coefs_[0].dtype)
        self._monte_carlo_outputs(X, n_samples, random_state, out=proba[..., 1:])
        np.subtract(1, proba[..., 1], out=proba[..., 0])
        return proba

    def _is_binary(self):
        """Whether a single logistic output stands for two classes."""
        return (
            self.n_outputs_ == 1
            and len(self.classes_) == 2
            and not target_type(self).startswith("multilabel")
        )

    def _single_class(self):
        """Whether training saw one class only: it has probability 1."""
        return self.n_outputs_ == 1 and len(self.classes_) == 1

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
