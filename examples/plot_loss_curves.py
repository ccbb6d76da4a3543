"""
=========================================================
Training and validation loss with and without dropout
=========================================================

A network that is far larger than its training set can support will
memorise that set: its training loss goes to zero while the loss on new data
stops falling and then climbs. This example trains the same wide network on
only 200 samples of a noisy synthetic problem, once as a plain
:class:`~sklearn.neural_network.MLPClassifier` and once as a
:class:`~skdrop.DropoutMLPClassifier`, and records three curves after every
epoch:

* the training loss that the estimator reports in ``loss_curve_``, measured
  on the mini-batches it trained on (with dropout noise, for the dropout
  network);
* the training loss of the full network (no dropout), on the same 200 samples;
* the validation loss of the full network on 1000 held-out samples.
"""

# %%
# Data and models
# ---------------
# Three classes, 40 features of which only 8 carry information (8 more are
# linear combinations of those, the rest is noise), and 3 % of the labels
# flipped at random. Both networks have one hidden layer of 512 units, about
# 22 500 weights for 200 training samples. The dropout network drops half of
# the hidden units and a fifth of the input features at every step.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skdrop import DropoutMLPClassifier

# These networks are small, and for small matrices one BLAS thread is faster
# than several (much faster when other programs share the cores).
threadpool_limits(1)

X, y = make_classification(
    n_samples=1200,
    n_features=40,
    n_informative=8,
    n_redundant=8,
    n_classes=3,
    flip_y=0.03,
    random_state=0,
)
X = StandardScaler().fit_transform(X)
X_train, X_val, y_train, y_val = train_test_split(
    X, y, train_size=200, test_size=1000, stratify=y, random_state=0
)
classes = np.unique(y)

shared = dict(hidden_layer_sizes=(512,), batch_size=20, random_state=0)
models = {
    "MLPClassifier": MLPClassifier(**shared),
    "DropoutMLPClassifier\n(dropout_rate=0.5, input_dropout_rate=0.2)": (
        DropoutMLPClassifier(dropout_rate=0.5, input_dropout_rate=0.2, **shared)
    ),
}

# %%
# Training, one epoch at a time
# -----------------------------
# ``partial_fit`` runs exactly one epoch over the data it is given, so calling
# it repeatedly on the training set is ordinary training with a measurement
# after each epoch. The losses of the full network come from
# ``predict_proba``, which never applies dropout.
n_epochs = 100
curves = {}
for name, model in models.items():
    full_train, full_val = [], []
    for _ in range(n_epochs):
        model.partial_fit(X_train, y_train, classes=classes)
        full_train.append(log_loss(y_train, model.predict_proba(X_train)))
        full_val.append(log_loss(y_val, model.predict_proba(X_val)))
    curves[name] = {
        "reported training loss (loss_curve_)": model.loss_curve_,
        "training loss, full network": full_train,
        "validation loss, full network": full_val,
    }
    one_line_name = name.replace("\n", " ")
    print(
        f"{one_line_name}: best validation loss {min(full_val):.3f} "
        f"(epoch {np.argmin(full_val) + 1}), final {full_val[-1]:.3f}; "
        f"validation accuracy {model.score(X_val, y_val):.3f}"
    )

# %%
# The curves
# ----------
styles = {
    "reported training loss (loss_curve_)": dict(color="C1", lw=1.0, alpha=0.8),
    "training loss, full network": dict(color="C0", lw=2),
    "validation loss, full network": dict(color="C3", lw=2),
}
epochs = np.arange(1, n_epochs + 1)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
for ax, (name, model_curves) in zip(axes, curves.items(), strict=True):
    for label, values in model_curves.items():
        ax.plot(epochs, values, label=label, **styles[label])
    best = int(np.argmin(model_curves["validation loss, full network"]))
    ax.axvline(best + 1, color="0.6", ls=":", lw=1)
    ax.set_title(name)
    ax.set_xlabel("epoch")
    ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.3)
axes[0].set_ylabel("log loss (log scale)")
axes[0].legend(loc="lower left")
fig.suptitle(
    "512 hidden units, 200 training samples "
    "(dotted line: epoch of the lowest validation loss)"
)
fig.tight_layout()
plt.show()

# %%
# Reading the figure
# ------------------
# Without dropout, the training loss falls towards zero and the validation
# loss reaches its minimum within a few epochs, then climbs steadily: the
# network grows ever more confident on training samples it has memorised
# (including the ones with flipped labels), and that confidence is wrong on
# a growing number of new samples.
#
# With dropout, the loss that the estimator reports (orange) stays well above
# the training loss of the full network (blue) and is noisy: every mini-batch
# is seen by a different random sub-network, which has fewer units and whose
# noise itself costs accuracy. That is why this number is a poor guide for
# choosing a model, and why skdrop computes validation scores, and therefore
# early stopping, with the full network. The full network's validation loss
# (red) reaches a similar or slightly lower minimum later and rises far more
# slowly, so the result depends much less on stopping at the right epoch.
# Dropout does not make early stopping useless, though: on a problem this
# small, ``early_stopping=True`` remains a good companion.
