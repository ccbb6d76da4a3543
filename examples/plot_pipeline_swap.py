"""
=====================================================
Swapping MLPClassifier for DropoutMLPClassifier
=====================================================

:class:`~skdrop.DropoutMLPClassifier` takes the same parameters as
scikit-learn's :class:`~sklearn.neural_network.MLPClassifier`, so an existing
pipeline gets dropout by replacing a single step. Here a scaler followed by a
wide one-hidden-layer network is trained on a small part of the digits data,
once with each classifier, and both are scored on the same held-out images.
"""

# %%
# One pipeline, two final steps
# -----------------------------
# The pipeline is built once. ``set_params`` replaces its ``mlp`` step with
# the dropout network; the scaler and every shared hyper-parameter stay as
# they are. Only 300 images are used for training, so a network with 512
# hidden units can easily memorise them.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skdrop import DropoutMLPClassifier

# These networks are small, and for small matrices one BLAS thread is faster
# than several (much faster when other programs share the cores).
threadpool_limits(1)

# Both networks train for a fixed, small number of epochs.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

shared = dict(hidden_layer_sizes=(512,), max_iter=60, batch_size=32, random_state=0)

pipeline = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier(**shared))])
plain_pipeline = clone(pipeline)  # keep a copy: set_params works in place

dropout_pipeline = pipeline.set_params(mlp=DropoutMLPClassifier(**shared))
print(dropout_pipeline)

# %%
# Each pipeline is then fitted on five random splits of 300 training and 1000
# test images, and scored on the test images.
models = {
    "MLPClassifier": plain_pipeline,
    "DropoutMLPClassifier\n(dropout_rate=0.5)": dropout_pipeline,
}

X, y = load_digits(return_X_y=True)
splits = StratifiedShuffleSplit(
    n_splits=5, train_size=300, test_size=1000, random_state=0
).split(X, y)

scores = {name: [] for name in models}
for train, test in splits:
    for name, model in models.items():
        model.fit(X[train], y[train])
        scores[name].append(model.score(X[test], y[test]))

for name, values in scores.items():
    label = name.replace("\n", " ")
    print(f"{label:42s} mean test accuracy {np.mean(values):.3f}")

# %%
# Test accuracy on each split
# ---------------------------
# Each grey line joins the two models' scores on the same split, so the
# comparison is not blurred by how hard a particular split is.
names = list(models)
values = np.array([scores[name] for name in names])

fig, ax = plt.subplots(figsize=(6, 4.5))
positions = np.arange(len(names))
for split_scores in values.T:
    ax.plot(positions, split_scores, color="0.75", zorder=1)
for position, color in zip(positions, ["C0", "C1"], strict=True):
    ax.scatter(
        np.full(values.shape[1], position), values[position], color=color, zorder=2
    )
tick_labels = [
    f"{name}\nmean {row.mean():.3f}" for name, row in zip(names, values, strict=True)
]
ax.set_xticks(positions, tick_labels)
ax.set_xlim(-0.5, len(names) - 0.5)
ax.set_ylabel("accuracy on 1000 held-out digits")
ax.set_title("Same pipeline, last step swapped\n(300 training images, 5 random splits)")
fig.tight_layout()
plt.show()

# %%
# What changed
# ------------
# Nothing but the class: the scaler, the network size, the optimiser and the
# number of epochs are identical, and every other line of the script is
# unchanged. On this problem the two networks end up about equally accurate:
# the spread between random splits is larger than the difference between
# the models. Whether dropout pays off depends on the data and on its rate,
# which is a hyper-parameter to tune like ``alpha`` (see
# :ref:`sphx_glr_auto_examples_plot_validation_curve.py`); the gain is
# usually clearer when the network is much larger than the data can support
# (see :ref:`sphx_glr_auto_examples_plot_loss_curves.py`).
