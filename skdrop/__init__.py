"""skdrop: scikit-learn multilayer perceptrons trained with dropout."""

from ._classifier import DropoutMLPClassifier
from ._regressor import DropoutMLPRegressor
from ._version import __version__

__all__ = ["DropoutMLPClassifier", "DropoutMLPRegressor", "__version__"]
