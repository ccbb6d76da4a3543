"""Dropout noise for one layer: mask samplers and their application.

A layer's noise is multiplicative (and, for alpha dropout, affine): the
dropped activations are ``H * mult + add``. The backward pass multiplies the
incoming gradient by the same ``mult``. Buffers are allocated once for the
largest batch and reused through row slices, and the raw random words are
drawn in small chunks, so a training step allocates no large array here.

Bernoulli and alpha masks are drawn as raw random bits compared with an
integer threshold, which is an order of magnitude cheaper than drawing
floating-point uniforms. The rate is therefore quantised to a multiple of
1/65536 (16 random bits per element); the scaling uses the quantised rate,
so the expected activation is preserved exactly. A rate that is a multiple
of 1/256 needs only 8 bits per element, and a rate of one half only one: the
same distribution, exactly, from a fraction of the random bits.
"""

import math

import numpy as np

from ._activations import SELU_ALPHA, SELU_SCALE

RATE_RESOLUTION = 1 << 16

# Mask elements filled per call to the bit generator: at most 64 KiB of raw
# words, so the temporary words stay in cache and never cost a large
# allocation. A multiple of 64, so that every chunk but the last uses whole
# 64-bit words at any number of bits per element.
MASK_CHUNK = 1 << 15

DROPOUT_TYPES = ("bernoulli", "gaussian", "alpha")


def quantised_rate(rate):
    """The drop probability that the 16-bit threshold actually realises."""
    return round(rate * RATE_RESOLUTION) / RATE_RESOLUTION


def mask_bits(threshold):
    """Random bits per mask element that realise ``threshold / 65536`` exactly:
    1 for one half, 8 for a multiple of 1/256, 16 otherwise."""
    if threshold == RATE_RESOLUTION // 2:
        return 1
    if threshold % (RATE_RESOLUTION >> 8) == 0:
        return 8
    return 16


def draw_keep_mask(rng, threshold, out):
    """Fill ``out`` with 1 (kept) at probability ``1 - threshold / 65536``
    and 0 otherwise, from raw generator words.

    ``out`` must be contiguous; it may be boolean or floating point (a float
    mask costs no conversion pass). Chunks hold a whole number of 64-bit
    words, so the random stream is the same as one draw for the whole mask.
    """
    flat = out.reshape(-1)
    bits = mask_bits(threshold)
    for start in range(0, flat.size, MASK_CHUNK):
        _fill_keep_chunk(rng, threshold, bits, flat[start : start + MASK_CHUNK])


def _fill_keep_chunk(rng, threshold, bits, chunk):
    # A function of its own, so that each chunk's raw words are freed before
    # the next chunk draws its own.
    words = rng.bit_generator.random_raw((chunk.size * bits + 63) // 64)
    if bits == 1:
        values = np.unpackbits(
            words.view(np.uint8), count=chunk.size, bitorder="little"
        )
    else:
        values = words.view(np.uint8 if bits == 8 else np.uint16)[: chunk.size]
    np.greater_equal(values, threshold >> (16 - bits), out=chunk)


class Dropout:
    """Multiplicative dropout noise for one layer of ``width`` units.

    Parameters
    ----------
    rate : float in (0, 1)
        Probability of dropping a unit (for ``'gaussian'``, the rate whose
        Bernoulli dropout has the same noise variance, ``p / (1 - p)``).
    width : int
        Number of units in the layer.
    dtype : numpy dtype
        Floating-point type of the activations.
    kind : {'bernoulli', 'gaussian', 'alpha'}
    """

    def __init__(self, rate, width, dtype, kind="bernoulli"):
        if kind not in DROPOUT_TYPES:
            raise ValueError(f"Unknown dropout type {kind!r}.")
        self.kind = kind
        self.width = width
        self.dtype = np.dtype(dtype)
        self.threshold = round(rate * RATE_RESOLUTION)
        self.rate = self.threshold / RATE_RESOLUTION if kind != "gaussian" else rate
        self._capacity = 0

    def _ensure_capacity(self, n_rows):
        if n_rows <= self._capacity:
            return
        shape = (n_rows, self.width)
        self._mult = np.empty(shape, dtype=self.dtype)
        self._add = np.empty(shape, dtype=self.dtype) if self.kind == "alpha" else None
        self._capacity = n_rows

    def sample(self, rng, n_rows):
        """Draw fresh noise for a batch of ``n_rows`` rows."""
        self._ensure_capacity(n_rows)
        mult = self._mult[:n_rows]
        if self.kind == "gaussian":
            rng.standard_normal(dtype=self.dtype, out=mult)
            # A Python float scale keeps float32 noise in float32 arithmetic.
            mult *= math.sqrt(self.rate / (1.0 - self.rate))
            mult += 1.0
            return
        # The keep mask (1 or 0) is drawn straight into ``mult`` and scaled
        # there: no boolean mask and no conversion pass.
        draw_keep_mask(rng, self.threshold, mult)
        if self.kind == "bernoulli":
            mult *= 1.0 / (1.0 - self.rate)
        else:
            a, b = alpha_dropout_affine(self.rate)
            dropped_value = a * -SELU_SCALE * SELU_ALPHA + b
            add = self._add[:n_rows]
            np.multiply(mult, b - dropped_value, out=add)
            add += dropped_value
            mult *= a

    def apply(self, H, out):
        """Write the noisy activations ``H * mult (+ add)`` into ``out``."""
        n_rows = H.shape[0]
        np.multiply(H, self._mult[:n_rows], out=out)
        if self.kind == "alpha":
            out += self._add[:n_rows]
        return out

    def apply_sparse(self, X):
        """The noisy version of a sparse matrix ``X`` (alpha needs dense)."""
        n_rows = X.shape[0]
        noisy = X.multiply(self._mult[:n_rows]).tocsr()
        if self.kind == "alpha":
            return noisy.toarray() + self._add[:n_rows]
        return noisy

    def backward(self, delta):
        """Multiply the gradient ``delta`` by the noise's derivative."""
        delta *= self._mult[: delta.shape[0]]

    @property
    def mult(self):
        """The multiplicative noise of the last sample (all rows allocated)."""
        return self._mult

    @property
    def add(self):
        """The additive noise of the last alpha sample, ``None`` otherwise."""
        return self._add


def alpha_dropout_affine(rate):
    """The affine correction ``(a, b)`` that keeps zero mean and unit variance.

    Dropped units are set to SELU's negative saturation value
    ``-scale * alpha``; ``a`` and ``b`` then restore the mean and variance
    of standardised inputs (Klambauer et al., 2017).
    """
    keep = 1.0 - rate
    saturation = -SELU_SCALE * SELU_ALPHA
    a = (keep + saturation**2 * keep * rate) ** -0.5
    b = -a * saturation * rate
    return a, b
