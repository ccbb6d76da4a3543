"""skdrop: scikit-learn multilayer perceptrons trained with dropout."""

from ._classifier import DropoutMLPClassifier
from ._regressor import DropoutMLPRegressor
from ._version import __version__
from .pipeline import pipeline_predict_samples
from .uncertainty import expected_entropy, mutual_information, predictive_entropy

__all__ = [
    "DropoutMLPClassifier",
    "DropoutMLPRegressor",
    "__version__",
    "expected_entropy",
    "mutual_information",
    "pipeline_predict_samples",
    "predictive_entropy",
]
