"""
==================================================
Tuning dropout_rate with GridSearchCV
==================================================

``dropout_rate`` is a regularisation hyper-parameter, and like ``alpha`` (the
L2 penalty of scikit-learn's MLP) it is best chosen on held-out data. This
example searches over ``dropout_rate`` for a
:class:`~skdrop.DropoutMLPClassifier` and, side by side, over ``alpha`` for a
plain :class:`~sklearn.neural_network.MLPClassifier`, and plots the
cross-validated score of every candidate: a validation curve for each kind
of regularisation.
"""

# %%
# A small, noisy problem
# ----------------------
# 300 training samples of a three-class problem with 40 features, only 8 of
# them informative, and 3 % of the labels flipped: a network of 256 hidden
# units overfits it readily. 1000 further samples are kept aside as a final
# test set.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skdrop import DropoutMLPClassifier

# These networks are small, and for small matrices one BLAS thread is faster
# than several (much faster when other programs share the cores).
threadpool_limits(1)

# Every candidate trains for the same fixed number of epochs.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = make_classification(
    n_samples=1300,
    n_features=40,
    n_informative=8,
    n_redundant=8,
    n_classes=3,
    flip_y=0.03,
    random_state=0,
)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=300, stratify=y, random_state=0
)

# %%
# Two grid searches
# -----------------
# The two searches share everything but the estimator and the parameter on
# the grid: the scaler, the network, the optimiser, the number of epochs and
# the cross-validation folds. The dropout network keeps scikit-learn's
# default ``alpha``; the plain network has no dropout to tune.
shared = dict(hidden_layer_sizes=(256,), batch_size=20, max_iter=60, random_state=0)
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)

searches = {
    "dropout_rate": GridSearchCV(
        make_pipeline(StandardScaler(), DropoutMLPClassifier(**shared)),
        {"dropoutmlpclassifier__dropout_rate": [0.0, 0.2, 0.4, 0.6, 0.8]},
        cv=cv,
    ),
    "alpha": GridSearchCV(
        make_pipeline(StandardScaler(), MLPClassifier(**shared)),
        {"mlpclassifier__alpha": [1e-4, 1e-2, 1e-1, 1.0, 3.0, 10.0]},
        cv=cv,
    ),
}
for search in searches.values():
    search.fit(X_train, y_train)
    best = search.best_params_
    print(
        f"best {best}: cross-validated accuracy {search.best_score_:.3f}, "
        f"test accuracy {search.score(X_test, y_test):.3f}"
    )

# %%
# The validation curves
# ---------------------
# Each point is the mean accuracy on the held-out folds of the
# cross-validation; the bars span one standard deviation across the folds.
# The star marks the candidate that the search selected.
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
titles = {
    "dropout_rate": "DropoutMLPClassifier: held-out accuracy vs dropout_rate",
    "alpha": "MLPClassifier: held-out accuracy vs alpha",
}
for ax, (name, search), color in zip(axes, searches.items(), ["C1", "C0"], strict=True):
    results = search.cv_results_
    values = np.array(results[f"param_{search.estimator.steps[-1][0]}__{name}"].data)
    values = values.astype(float)
    mean = results["mean_test_score"]
    std = results["std_test_score"]
    ax.errorbar(values, mean, yerr=std, marker="o", color=color, capsize=3)
    best = search.best_index_
    ax.plot(values[best], mean[best], "*", color="k", markersize=14, label="selected")
    ax.set_xlabel(name)
    ax.set_title(titles[name], fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower center")
axes[1].set_xscale("log")
axes[0].set_ylabel("mean accuracy on held-out folds (3-fold CV)")
fig.tight_layout()
plt.show()

# %%
# Reading the figure
# ------------------
# Both curves have the usual shape of a regularisation path: too little
# regularisation leaves the network free to memorise the training folds, too
# much makes it underfit. ``dropout_rate=0`` is the same model as the
# leftmost point of the ``alpha`` curve (no dropout, scikit-learn's default
# penalty), trained with skdrop's own random number stream, so its score is
# close to but not exactly the same; the left panel shows what dropout adds
# on top of it. The printed test
# accuracies of the two selected models are the fair comparison: they come
# from data that neither search has seen. With three folds of 200 training
# samples each, differences of a point or two of accuracy between
# neighbouring candidates are within the noise of the folds (the bars).
