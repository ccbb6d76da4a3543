"""Monte Carlo dropout through a scikit-learn ``Pipeline``."""

from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted


def pipeline_predict_samples(pipeline, X, n_samples=30, random_state=None):
    """Monte Carlo dropout passes of a fitted pipeline's final step.

    ``Pipeline`` forwards ``predict``, ``predict_proba`` and the like to its
    final step, but not ``predict_samples``. This function applies every
    step but the last with ``transform`` (as ``Pipeline.predict`` does) and
    then calls the final step's ``predict_samples``.

    Parameters
    ----------
    pipeline : Pipeline
        A fitted pipeline whose final step has ``predict_samples``, such as
        :class:`~skdrop.DropoutMLPClassifier` or
        :class:`~skdrop.DropoutMLPRegressor`.
    X : array-like of shape (n_rows, n_features)
        Input data, as the pipeline's first step expects it.
    n_samples : int, default=30
        Number of stochastic passes.
    random_state : int, RandomState instance or None, default=None
        Seeds the dropout masks; an int reproduces the samples.

    Returns
    -------
    samples : ndarray
        What the final step's ``predict_samples`` returns for the
        transformed ``X``: shape (n_samples, n_rows[, n_outputs]) for a
        regressor, (n_samples, n_rows, n_classes) for a classifier.

    Raises
    ------
    TypeError
        If ``pipeline`` is not a ``Pipeline`` or its final step has no
        ``predict_samples``.
    sklearn.exceptions.NotFittedError
        If the pipeline is not fitted.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skdrop import DropoutMLPRegressor, pipeline_predict_samples
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ [1.0, -2.0, 0.5]
    >>> model = make_pipeline(
    ...     StandardScaler(), DropoutMLPRegressor(max_iter=50, random_state=0)
    ... ).fit(X, y)
    >>> samples = pipeline_predict_samples(model, X[:5], n_samples=20,
    ...                                    random_state=0)
    >>> samples.shape
    (20, 5)
    """
    if not isinstance(pipeline, Pipeline):
        raise TypeError(
            f"pipeline must be a sklearn.pipeline.Pipeline, got "
            f"{type(pipeline).__name__}; call predict_samples on an estimator "
            "directly."
        )
    final = pipeline._final_estimator
    if not hasattr(final, "predict_samples"):
        raise TypeError(
            f"The final step of pipeline, {type(final).__name__}, has no "
            "predict_samples method; it must be a skdrop estimator."
        )
    check_is_fitted(pipeline)
    Xt = pipeline[:-1].transform(X) if len(pipeline) > 1 else X
    return final.predict_samples(Xt, n_samples=n_samples, random_state=random_state)
