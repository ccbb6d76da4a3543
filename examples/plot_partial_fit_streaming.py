"""
============================================
Learning from a stream with partial_fit
============================================

When data arrive in chunks, too many to keep or too late to wait for,
``partial_fit`` updates a model with one pass over each new chunk. Both
:class:`~skdrop.DropoutMLPClassifier` and scikit-learn's
:class:`~sklearn.neural_network.MLPClassifier` support it. This example
streams 60 chunks of 100 samples through each of them, scaling the features
on the fly, and scores both on a fixed held-out set after every chunk.
"""

# %%
# The stream
# ----------
# A four-class problem with 30 features, 10 of them informative. The first
# 1000 samples are held out for evaluation; the rest is cut into chunks of
# 100 that are seen once each, in order.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skdrop import DropoutMLPClassifier

# These networks are small, and for small matrices one BLAS thread is faster
# than several (much faster when other programs share the cores).
threadpool_limits(1)

X, y = make_classification(
    n_samples=7000,
    n_features=30,
    n_informative=10,
    n_redundant=5,
    n_classes=4,
    flip_y=0.05,
    random_state=0,
)
X_test, y_test = X[:1000], y[:1000]
X_stream, y_stream = X[1000:], y[1000:]
chunk_size = 100
n_chunks = len(X_stream) // chunk_size
classes = np.unique(y)  # partial_fit must know every class from the start

# %%
# Updating chunk by chunk
# -----------------------
# The scaler is also updated incrementally: ``StandardScaler.partial_fit``
# keeps running means and variances, so every chunk is scaled with the
# statistics of everything seen so far. The networks see each chunk exactly
# once (``partial_fit`` runs one epoch over the data it receives).
shared = dict(hidden_layer_sizes=(256,), batch_size=25, random_state=0)
models = {
    "MLPClassifier": MLPClassifier(**shared),
    "DropoutMLPClassifier (dropout_rate=0.3)": DropoutMLPClassifier(
        dropout_rate=0.3, **shared
    ),
}
scaler = StandardScaler()
scores = {name: [] for name in models}
for chunk in range(n_chunks):
    rows = slice(chunk * chunk_size, (chunk + 1) * chunk_size)
    X_chunk, y_chunk = X_stream[rows], y_stream[rows]
    scaler.partial_fit(X_chunk)
    X_chunk = scaler.transform(X_chunk)
    X_eval = scaler.transform(X_test)
    for name, model in models.items():
        model.partial_fit(X_chunk, y_chunk, classes=classes)
        scores[name].append(model.score(X_eval, y_test))

for name, values in scores.items():
    print(f"{name:42s} after {n_chunks} chunks: accuracy {values[-1]:.3f}")

# %%
# Held-out accuracy against the amount of data seen
# -------------------------------------------------
samples_seen = chunk_size * np.arange(1, n_chunks + 1)
fig, ax = plt.subplots(figsize=(8, 4.5))
for (name, values), color in zip(scores.items(), ["C0", "C1"], strict=True):
    ax.plot(samples_seen, values, color=color, lw=1.8, label=name)
ax.set_xlabel("training samples seen (chunks of 100, each seen once)")
ax.set_ylabel("accuracy on 1000 held-out samples")
ax.set_title("Streaming training with partial_fit")
ax.grid(True, alpha=0.3)
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()

# %%
# Reading the figure
# ------------------
# Both networks improve steadily as data accumulate and are still improving
# after 6000 samples. Dropout trains a random sub-network at every step, so
# when every sample is seen only once it learns a little more slowly at the
# start; by the end of this stream the two are level. On a stream this short,
# where the plain network never gets to fit the noise of the chunks, dropout
# has little to regularise, and the benefit, if any, comes on longer streams
# or when chunks are revisited. The estimator keeps its random number stream
# from one ``partial_fit`` call to the next, so no two chunks are trained
# with the same dropout masks, and the whole run is reproducible from
# ``random_state``.
