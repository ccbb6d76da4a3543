"""
===========================================
Monte Carlo dropout for regression
===========================================

A trained :class:`~skdrop.DropoutMLPRegressor` predicts with the full,
deterministic network. Switching dropout back on at prediction time instead
gives a different thinned network for every forward pass; the spread of
their predictions says how much the answer depends on which units happen to
be present. Where the training data pinned the function down, the passes
agree; away from the data they drift apart.

``predict(X, return_std=True)`` returns the mean of such passes together
with a predictive standard deviation that adds an estimate of the noise in
the targets. This example fits a one-dimensional curve from samples in two
separate intervals and draws the ``mean ± 2 std`` band over a wider range.
"""

# %%
# A curve observed in two intervals
# ---------------------------------
# The inputs are drawn in [-4.5, -2] and [1, 3.5] only; the targets are a
# smooth function plus Gaussian noise with standard deviation 0.1.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skdrop import DropoutMLPRegressor

# These networks are small, and for small matrices one BLAS thread is faster
# than several (much faster when other programs share the cores).
threadpool_limits(1)


def true_function(x):
    return np.sin(1.5 * x) + 0.3 * x


rng = np.random.default_rng(0)
noise_std = 0.1
x_train = np.concatenate([rng.uniform(-4.5, -2, 80), rng.uniform(1, 3.5, 80)])
y_train = true_function(x_train) + rng.normal(scale=noise_std, size=x_train.size)
X_train = x_train[:, np.newaxis]

x_plot = np.linspace(-7, 7, 400)
X_plot = x_plot[:, np.newaxis]

# %%
# Fitting
# -------
# Two hidden layers of 256 units, with a fifth of the hidden units dropped
# at every training step. Training runs for a fixed 300 epochs: the
# stopping rule on the (noisy) training loss would otherwise end it early,
# before the curve is fitted.
model = DropoutMLPRegressor(
    hidden_layer_sizes=(256, 256),
    dropout_rate=0.2,
    learning_rate_init=0.003,
    batch_size=32,
    max_iter=300,
    n_iter_no_change=300,
    random_state=0,
)
with warnings.catch_warnings():
    # max_iter is reached on purpose
    warnings.simplefilter("ignore", ConvergenceWarning)
    model.fit(X_train, y_train)
print(f"epochs run: {model.n_iter_}")
print(
    f"estimated noise standard deviation: {np.sqrt(model.noise_variance_[0]):.3f} "
    f"(true value {noise_std})"
)

# %%
# Predictive mean and standard deviation
# --------------------------------------
# ``predict(X, return_std=True)`` runs 30 forward passes with dropout on.
# ``mean`` is their average. ``std`` is the square root of the variance
# across the passes (the model's uncertainty) plus ``noise_variance_``, the
# noise in the targets, estimated at fit time from the residuals of a full
# network. ``predict_samples`` gives the passes themselves; their standard
# deviation is the model's part alone. Every pass draws fresh masks for
# every row, so a pass is not one smooth curve but a set of independent
# draws, one per input; with 30 passes the mean and the standard deviation
# still carry some Monte Carlo noise, visible as small wiggles.
mean, std = model.predict(X_plot, return_std=True)
samples = model.predict_samples(X_plot, n_samples=30, random_state=0)
model_std = samples.std(axis=0)

fig, (ax_fit, ax_std) = plt.subplots(
    2, 1, figsize=(8, 7), sharex=True, height_ratios=[2, 1]
)
for interval in ([-4.5, -2], [1, 3.5]):
    for ax in (ax_fit, ax_std):
        ax.axvspan(*interval, color="0.93", zorder=0)
ax_fit.fill_between(
    x_plot,
    mean - 2 * std,
    mean + 2 * std,
    color="C0",
    alpha=0.25,
    label="mean ± 2 std (return_std=True)",
)
ax_fit.plot(x_plot, mean, color="C0", lw=2, label="Monte Carlo mean")
ax_fit.plot(x_plot, true_function(x_plot), "k--", lw=1.2, label="true function")
ax_fit.scatter(x_train, y_train, s=10, color="k", alpha=0.6, label="training data")
ax_fit.set_ylabel("y")
ax_fit.set_ylim(-4, 4)
ax_fit.set_title("DropoutMLPRegressor: Monte Carlo dropout, training data shaded")
ax_fit.legend(loc="upper left", fontsize="small")

ax_std.plot(x_plot, std, color="C0", lw=2, label="predictive std (return_std=True)")
ax_std.plot(x_plot, model_std, color="C1", lw=1.5, label="model part: std of passes")
ax_std.axhline(
    np.sqrt(model.noise_variance_[0]),
    color="C2",
    ls=":",
    lw=1.5,
    label="noise part: sqrt(noise_variance_)",
)
ax_std.set_xlabel("x")
ax_std.set_ylabel("standard deviation")
ax_std.set_ylim(0, 1.3 * std.max())  # room for the legend
ax_std.legend(loc="upper center", fontsize="small")
fig.tight_layout()
plt.show()

# %%
# Reading the figure
# ------------------
# Inside the two intervals the band is narrow: there the passes agree and its
# width is mostly the estimated noise. Beyond the data, and most clearly to
# the left where the network extrapolates a steep slope, the passes diverge
# and the band widens with the distance from the data.
#
# The figure also shows the limits of the method. In the gap between the
# intervals the band widens only a little, although the true function leaves
# it there, and on the right it grows slowly while the true function swings
# far away. Monte Carlo dropout measures how much the prediction depends on
# which units are present, which is not the same as how far an input is from
# the data. Its width depends on ``dropout_rate`` and on the size of the
# network, so check its coverage on held-out data before trusting it.
#
# The noise part is a mean squared residual, so it also absorbs whatever the
# network has not fitted; compare the printed estimate with the true noise
# level of the data.
