"""
=====================================================
Checking gradient descent when dropout blurs the loss
=====================================================

With dropout, every training step evaluates a different thinned network, so
the training loss that ``loss_curve_`` records is noisy: "the cost function
becomes less well-defined", and a stopping rule that waits for it to stop
improving fires early, long before the network has converged. This matters
most on small data sets, which make few optimiser steps per epoch (two for
the 300 rows here).

skdrop's estimators therefore judge convergence, whenever a layer has
dropout, on the loss of the whole network (dropout off) on a fixed sample of
the training rows, and record it per epoch in ``dropout_free_loss_curve_``.
This example plots both curves for a default
:class:`~skdrop.DropoutMLPRegressor` and marks where scikit-learn's rule,
reading the noisy loss, would have stopped.
"""

# %%
# A small regression problem
# --------------------------
# 300 rows of Friedman's first benchmark function with noise, inputs and
# target standardised.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skdrop import DropoutMLPRegressor

threadpool_limits(1)  # small matrices: one BLAS thread is faster

X, y = make_friedman1(n_samples=400, noise=1.0, random_state=0)
X = StandardScaler().fit_transform(X)
y = (y - y.mean()) / y.std()
X_train, y_train, X_test, y_test = X[:300], y[:300], X[300:], y[300:]

reg = DropoutMLPRegressor(random_state=0).fit(X_train, y_train)
test_rmse = np.sqrt(np.mean((reg.predict(X_test) - y_test) ** 2))
print(f"{reg.n_iter_} epochs, test RMSE {test_rmse:.3f} (standardised units)")


# %%
# Where the noisy loss would have stopped training
# ------------------------------------------------
# scikit-learn's rule stops once the loss has not improved by ``tol`` for
# ``n_iter_no_change`` epochs in a row. Replayed on the noisy curve:
def epoch_of_noisy_stop(loss_curve, tol=1e-4, patience=10):
    best, count = np.inf, 0
    for epoch, loss in enumerate(loss_curve, start=1):
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count > patience:
            return epoch
    return None


early = epoch_of_noisy_stop(reg.loss_curve_)
print(f"the noisy-loss rule would have stopped after {early} epochs")

# %%
# The two curves
# --------------
# The noisy training loss flattens early; the loss without dropout keeps
# falling for hundreds of epochs more, and the stopping rule reads it.
fig, ax = plt.subplots(figsize=(7, 4))
epochs = np.arange(1, reg.n_iter_ + 1)
ax.plot(epochs, reg.loss_curve_, lw=0.8, label="loss_curve_ (with dropout noise)")
ax.plot(
    epochs,
    reg.dropout_free_loss_curve_,
    lw=1.5,
    label="dropout_free_loss_curve_ (whole network)",
)
ax.axvline(early, color="grey", ls="--", label="noisy-loss rule would stop")
ax.set_xlabel("epoch")
ax.set_ylabel("half mean squared error (+ L2)")
ax.set_yscale("log")
ax.legend()
ax.set_title("DropoutMLPRegressor() on 300 rows")
fig.tight_layout()
plt.show()
