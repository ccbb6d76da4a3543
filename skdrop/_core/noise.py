"""Dropout noise for one layer: the kinds of noise and their registry.

A kind of dropout is a :class:`Noise` subclass registered in :data:`NOISE`
under the name ``dropout_type`` takes. Its docstring's first line is the
description the estimators' documentation shows, and ``dropout_type``'s
validation accepts exactly the registered names: a new kind is one class.

The noise is multiplicative (alpha dropout adds an affine term): the noisy
activations are ``H * mult (+ add)`` and the backward pass multiplies the
incoming gradient by the same ``mult``. Buffers are allocated once for the
largest batch and reused through row slices, and the raw random words are
drawn in small chunks, so a training step allocates no large array here.

Bernoulli and alpha masks are drawn as raw random bits compared with an
integer threshold, an order of magnitude cheaper than floating-point
uniforms. The rate is therefore quantised to a multiple of 1/65536 (16
random bits per element); the scaling uses the quantised rate, so the
expected activation is preserved exactly. A rate that is a multiple of 1/256
needs only 8 bits per element, and a rate of one half only one: the same
distribution, exactly, from a fraction of the random bits.
"""

import math

import numpy as np

from .activations import SELU_ALPHA, SELU_SCALE
from .registry import Registered

RATE_RESOLUTION = 1 << 16

# Mask elements filled per call to the bit generator: at most 64 KiB of raw
# words, so the temporary words stay in cache and never cost a large
# allocation. A multiple of 64, so that every chunk but the last uses whole
# 64-bit words at any number of bits per element.
MASK_CHUNK = 1 << 15


def drop_threshold(rate):
    """The 16-bit threshold of a drop probability ``rate`` in [0, 1).

    A rate within 1/131072 of 1 would round to a threshold of 65536, which
    drops every unit and leaves nothing to rescale by: the threshold is
    clamped so that at least one level in 65536 is kept.
    """
    return min(round(rate * RATE_RESOLUTION), RATE_RESOLUTION - 1)


def keep_scale(threshold):
    """Inverted dropout's scale ``1 / (1 - p)`` of the rate a 16-bit
    threshold realises: kept units are scaled by it, so that the expected
    activation is that of the whole network. Per-row and grouped masks both
    use it."""
    return 1.0 / (1.0 - threshold / RATE_RESOLUTION)


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


# name -> Noise subclass; every subclass with a ``name`` registers itself.
NOISE = {}


class Noise(Registered):
    """Dropout noise of one layer of ``width`` units (base class).

    A subclass sets ``name`` (its ``dropout_type``), gets a one-line
    docstring summary, and implements :meth:`sample`, which writes the
    multiplicative noise of a batch into ``self._mult[:n_rows]``.

    Parameters
    ----------
    rate : float in (0, 1)
        Probability of dropping a unit.
    width : int
        Number of units in the layer.
    dtype : numpy dtype
        Floating-point type of the activations.
    """

    registry = NOISE
    # The hidden activation the noise is made for (None: any); the
    # estimators warn when it is used with another one.
    designed_for_activation = None
    # Whether a dropped unit contributes exactly nothing downstream, so that
    # rows sharing a mask can skip the dropped units' weights altogether
    # (skdrop._core.masking.GroupMasks). A kind that sets it implements
    # draw_shared_mask and shared_mask_scale.
    zeroes_dropped_units = False

    def __init__(self, rate, width, dtype):
        self.rate = rate
        self.width = width
        self.dtype = np.dtype(dtype)
        self._capacity = 0

    def _ensure_capacity(self, n_rows):
        if n_rows > self._capacity:
            self._allocate(n_rows)
            self._capacity = n_rows

    def _allocate(self, n_rows):
        self._mult = np.empty((n_rows, self.width), dtype=self.dtype)

    def sample(self, rng, n_rows):
        """Draw fresh noise for a batch of ``n_rows`` rows."""
        raise NotImplementedError

    def apply(self, H, out):
        """Write the noisy activations ``H * mult`` into ``out``; return it."""
        np.multiply(H, self._mult[: H.shape[0]], out=out)
        return out

    def apply_sparse(self, X):
        """The noisy version of a sparse matrix ``X``."""
        return X.multiply(self._mult[: X.shape[0]]).tocsr()

    def backward(self, delta):
        """Multiply the gradient ``delta`` by the noise's derivative, in place."""
        delta *= self._mult[: delta.shape[0]]


class _QuantisedNoise(Noise):
    """Noise whose drops come from a 16-bit integer threshold."""

    def __init__(self, rate, width, dtype):
        self.threshold = drop_threshold(rate)
        super().__init__(self.threshold / RATE_RESOLUTION, width, dtype)


class Bernoulli(_QuantisedNoise):
    """``'bernoulli'``: inverted dropout, kept units scaled by ``1 / (1 - p)``."""

    name = "bernoulli"
    zeroes_dropped_units = True

    def sample(self, rng, n_rows):
        self._ensure_capacity(n_rows)
        # The keep mask (1 or 0) is drawn straight into ``mult`` and scaled
        # there: no boolean mask and no conversion pass.
        mult = self._mult[:n_rows]
        draw_keep_mask(rng, self.threshold, mult)
        mult *= keep_scale(self.threshold)

    def draw_shared_mask(self, rng, out):
        """Keep masks shared by groups of rows (one row of the boolean
        ``out`` per group), from the same raw bits as per-row masks."""
        draw_keep_mask(rng, self.threshold, out)

    @property
    def shared_mask_scale(self):
        """The factor of a kept unit under a shared mask, as a Python float
        (it keeps float32 arithmetic in float32)."""
        return keep_scale(self.threshold)


class Gaussian(Noise):
    """``'gaussian'``: multiplicative noise of mean 1 and variance ``p / (1 - p)``."""

    name = "gaussian"

    def sample(self, rng, n_rows):
        self._ensure_capacity(n_rows)
        mult = self._mult[:n_rows]
        rng.standard_normal(dtype=self.dtype, out=mult)
        # A Python float scale keeps float32 noise in float32 arithmetic.
        mult *= math.sqrt(self.rate / (1.0 - self.rate))
        mult += 1.0


class Alpha(_QuantisedNoise):
    """``'alpha'``: alpha dropout, which keeps SELU activations at zero mean and
    unit variance."""

    name = "alpha"
    designed_for_activation = "selu"

    def _allocate(self, n_rows):
        super()._allocate(n_rows)
        self._add = np.empty((n_rows, self.width), dtype=self.dtype)

    def sample(self, rng, n_rows):
        self._ensure_capacity(n_rows)
        mult, add = self._mult[:n_rows], self._add[:n_rows]
        draw_keep_mask(rng, self.threshold, mult)
        a, b = alpha_dropout_affine(self.rate)
        dropped_value = a * -SELU_SCALE * SELU_ALPHA + b
        np.multiply(mult, b - dropped_value, out=add)
        add += dropped_value
        mult *= a

    def apply(self, H, out):
        super().apply(H, out)
        out += self._add[: H.shape[0]]
        return out

    def apply_sparse(self, X):
        # The additive term fills every entry: the result is dense.
        return super().apply_sparse(X).toarray() + self._add[: X.shape[0]]


def alpha_dropout_affine(rate):
    """The affine correction ``(a, b)`` that keeps zero mean and unit variance.

    Dropped units are set to SELU's negative saturation value
    ``-scale * alpha``; ``a`` and ``b`` then restore the mean and variance
    of standardised inputs (Klambauer et al., 2017). ``rate`` must be below
    1 (the threshold's clamp guarantees it for a quantised rate).
    """
    keep = 1.0 - rate
    saturation = -SELU_SCALE * SELU_ALPHA
    a = (keep + saturation**2 * keep * rate) ** -0.5
    b = -a * saturation * rate
    return a, b


def document_dropout_types(docstring):
    """Fill the ``dropout_type`` entry of an estimator's docstring from :data:`NOISE`.

    ``DROPOUT_TYPE_NAMES`` becomes the quoted names, ``DROPOUT_TYPE_LIST``
    one bullet per kind: its class docstring's summary.
    """
    names = ", ".join(repr(name) for name in NOISE)
    bullets = "\n".join(
        f"        - {' '.join(cls.__doc__.split(chr(10) * 2)[0].split())}"
        for cls in NOISE.values()
    )
    return docstring.replace("DROPOUT_TYPE_NAMES", names).replace(
        "DROPOUT_TYPE_LIST", bullets.lstrip()
    )
