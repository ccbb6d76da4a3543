"""Dropout noise: the kinds' statistics, how masks are drawn, the registry.

Every statistical tolerance below is a multiple of the standard error of the
quantity tested, so each test holds for any seed with overwhelming
probability; the seeds are fixed anyway so that a failure is reproducible.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from support import fresh_registry

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._core import noise as _noise
from skdrop._core.activations import SELU_ALPHA, SELU_SCALE, selu
from skdrop._core.network import Network
from skdrop._core.noise import (
    MASK_CHUNK,
    NOISE,
    RATE_RESOLUTION,
    Noise,
    alpha_dropout_affine,
    document_dropout_types,
    draw_keep_mask,
    drop_threshold,
    mask_bits,
)


def noise_factors(noise, n_rows):
    """``(mult, add)`` of the last sample, read through the public ``apply``."""
    ones = np.ones((n_rows, noise.width), dtype=noise.dtype)
    add = noise.apply(np.zeros_like(ones), np.empty_like(ones))
    return noise.apply(ones, np.empty_like(ones)) - add, add


# Deviations larger than this many standard errors count as failures
# (probability below 1e-6 per check under the null hypothesis).
Z = 5.0


def _sample(rate, kind, n_rows=2000, width=500, seed=0):
    dropout = NOISE[kind](rate, width, np.float64)
    dropout.sample(np.random.default_rng(seed), n_rows)
    return dropout


@pytest.mark.parametrize("kind", ["bernoulli", "alpha"])
@pytest.mark.parametrize("rate", [0.05, 0.2, 0.5, 0.8])
def test_fraction_dropped_matches_rate(kind, rate):
    dropout = _sample(rate, kind)
    dropped = noise_factors(dropout, 2000)[0] == 0
    n = dropped.size
    q = dropout.rate
    assert abs(dropped.mean() - q) <= Z * np.sqrt(q * (1 - q) / n)


@pytest.mark.parametrize("threshold", [1, 4096, 20000, 32768, 65280, 65535])
def test_keep_mask_probability_is_exact_in_16_bit_units(threshold):
    keep = np.empty((1000, 1000), dtype=bool)
    draw_keep_mask(np.random.default_rng(1), threshold, keep)
    p_keep = 1 - threshold / RATE_RESOLUTION
    assert abs(keep.mean() - p_keep) <= Z * np.sqrt(p_keep * (1 - p_keep) / keep.size)


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_bernoulli_keeps_scaled_units_and_preserves_mean(rate):
    dropout = _sample(rate, "bernoulli")
    mult = noise_factors(dropout, 2000)[0]
    kept = mult[mult != 0]
    np.testing.assert_allclose(kept, 1 / (1 - dropout.rate))
    H = np.full((2000, 500), 3.0)
    out = dropout.apply(H, np.empty_like(H))
    # E[out] = H exactly; the standard error of the mean of out is
    # 3 * sqrt(q / (1 - q) / n).
    se = 3.0 * np.sqrt(rate / (1 - rate) / out.size)
    assert abs(out.mean() - 3.0) <= Z * se


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.7])
def test_gaussian_noise_has_mean_one_and_variance_p_over_1_minus_p(rate):
    dropout = _sample(rate, "gaussian")
    mult = noise_factors(dropout, 2000)[0]
    n = mult.size
    variance = rate / (1 - rate)
    assert abs(mult.mean() - 1) <= Z * np.sqrt(variance / n)
    # The sample variance of normals has standard error var * sqrt(2 / n).
    assert abs(mult.var() - variance) <= Z * variance * np.sqrt(2 / n)
    H = np.full((2000, 500), -2.0)
    out = dropout.apply(H, np.empty_like(H))
    assert abs(out.mean() + 2.0) <= Z * 2.0 * np.sqrt(variance / n)


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.3])
def test_alpha_dropout_keeps_standard_normal_inputs_standard(rate):
    rng = np.random.default_rng(2)
    H = rng.standard_normal((2000, 500))
    dropout = NOISE["alpha"](rate, 500, np.float64)
    dropout.sample(rng, 2000)
    out = dropout.apply(H, np.empty_like(H))
    n = out.size
    # The output has variance 1 and a bounded fourth moment (below 10 for
    # these rates), so these are generous multiples of the standard errors.
    assert abs(out.mean()) <= Z / np.sqrt(n)
    assert abs(out.var() - 1) <= Z * np.sqrt(10 / n)
    # And it is not the identity: dropped units sit at one value.
    a, b = alpha_dropout_affine(dropout.rate)
    saturation = a * -SELU_SCALE * SELU_ALPHA + b  # SELU's negative saturation
    dropped = noise_factors(dropout, 2000)[0] == 0
    np.testing.assert_allclose(out[dropped], saturation)


def test_alpha_dropout_after_selu_stays_normalised():
    # SELU maps N(0, 1) pre-activations to mean 0 and variance 1; alpha
    # dropout must keep that fixed point.
    rng = np.random.default_rng(3)
    Z_pre = rng.standard_normal((4000, 250))
    selu(Z_pre)
    dropout = NOISE["alpha"](0.1, 250, np.float64)
    dropout.sample(rng, 4000)
    out = dropout.apply(Z_pre, np.empty_like(Z_pre))
    assert abs(out.mean()) < 0.01
    assert abs(out.var() - 1) < 0.02


def test_deep_selu_network_with_alpha_dropout_self_normalises():
    # LeCun initialisation + SELU + alpha dropout: ten layers deep the
    # activations still have mean about 0 and variance about 1.
    units = [100] + [200] * 10 + [1]
    network = Network(units, "selu", "identity", np.float64)
    network.initialize(np.random.default_rng(4))
    for intercept in network.intercepts:
        intercept.fill(0)
    network.set_dropout([0.0] + [0.1] * 10, "alpha")
    X = np.random.default_rng(5).standard_normal((2000, 100))
    network.forward(X, np.random.default_rng(6))
    # The input of the output layer: the last hidden layer after the noise.
    last_hidden = network._inputs[-1]
    assert abs(last_hidden.mean()) < 0.2
    assert 0.7 < last_hidden.var() < 1.3


@pytest.mark.parametrize("rate", [0.123456, 0.5 + 1e-7, 1e-6, 0.3])
def test_rates_are_quantised_to_1_over_65536(rate):
    dropout = NOISE["bernoulli"](rate, 10, np.float64)
    assert (dropout.rate * RATE_RESOLUTION).is_integer()
    assert abs(dropout.rate - rate) <= 0.5 / RATE_RESOLUTION
    # The scale uses the quantised rate, so the expected multiplier is 1
    # exactly, not 1 + O(1 / 65536).
    keep_probability = 1 - dropout.threshold / RATE_RESOLUTION
    if keep_probability < 1:
        dropout.sample(np.random.default_rng(0), 5)
        scale = noise_factors(dropout, 5)[0].max()
        assert keep_probability * scale == pytest.approx(1.0, abs=1e-15)


def test_rate_below_half_resolution_drops_nothing():
    dropout = _sample(1e-6, "bernoulli", n_rows=100, width=100)
    assert dropout.rate == 0
    np.testing.assert_array_equal(noise_factors(dropout, 100)[0], 1.0)


def test_gaussian_rate_is_not_quantised():
    assert NOISE["gaussian"](0.123456, 10, np.float64).rate == 0.123456


@pytest.mark.parametrize("kind", list(NOISE))
@pytest.mark.parametrize("rate", [1 - 1e-7, 1 - 0.4 / RATE_RESOLUTION])
def test_rate_that_rounds_to_one_keeps_a_level(kind, rate):
    # 16-bit quantisation would round these to 1.0 (drop everything, scale
    # by 1 / 0): the threshold is clamped so that one level in 65536 is kept.
    dropout = NOISE[kind](rate, 50, np.float64)
    assert dropout.rate < 1
    dropout.sample(np.random.default_rng(0), 400)
    mult, add = noise_factors(dropout, 400)
    assert np.isfinite(mult).all()
    assert np.isfinite(add).all()


# -- how masks are drawn ----------------------------------------
def _keep_from_one_draw(seed, threshold, n):
    """The keep mask read from one draw of raw words, 16, 8 or 1 bit(s) each."""
    words = np.random.default_rng(seed).bit_generator.random_raw(n)
    if threshold == 32768:
        bits = np.unpackbits(words.view(np.uint8), bitorder="little")
        return bits[:n] == 1
    if threshold % 256 == 0:
        return words.view(np.uint8)[:n] >= threshold // 256
    return words.view(np.uint16)[:n] >= threshold


@pytest.mark.parametrize("threshold", [20000, 256 * 200, 32768])
@pytest.mark.parametrize("n", [1, 5, MASK_CHUNK - 1, MASK_CHUNK + 6, 3 * MASK_CHUNK])
def test_chunked_keep_mask_equals_one_draw_of_raw_bits(n, threshold):
    keep = np.empty(n, dtype=np.float32)
    draw_keep_mask(np.random.default_rng(3), threshold, keep)
    expected = _keep_from_one_draw(3, threshold, n)
    np.testing.assert_array_equal(keep, expected.astype(np.float32))


@pytest.mark.parametrize(
    ("threshold", "bits"), [(32768, 1), (256, 8), (65280, 8), (20000, 16), (1, 16)]
)
def test_mask_takes_the_fewest_random_bits_that_realise_the_rate(threshold, bits):
    assert mask_bits(threshold) == bits
    # The same number of bits realises the rate exactly.
    assert threshold * 2**bits % 65536 == 0


# -- the registry --------------------------------------------------
@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_dropout_type_constraint_is_the_registry(Estimator):
    (options,) = Estimator._parameter_constraints["dropout_type"]
    assert options.options == set(NOISE) == {"bernoulli", "gaussian", "alpha"}


def test_threshold_is_clamped_below_one():
    assert drop_threshold(0.5) == RATE_RESOLUTION // 2
    assert drop_threshold(1 - 1e-7) == RATE_RESOLUTION - 1
    assert drop_threshold(0.0) == 0


def test_a_new_kind_is_one_class(monkeypatch):
    fresh_registry(monkeypatch, _noise, "NOISE", Noise)

    class Halving(Noise):
        """``'halving'``: every unit at half its value (a test kind)."""

        name = "halving"

        def sample(self, rng, n_rows):
            self._ensure_capacity(n_rows)
            self._mult[:n_rows] = 0.5

    assert {"halving": Halving} == _noise.NOISE
    monkeypatch.setattr("skdrop._core.network.NOISE", _noise.NOISE)
    network = Network([3, 4, 2], "identity", "identity", np.float64)
    network.initialize(np.random.default_rng(0))
    clean = Network([3, 4, 2], "identity", "identity", np.float64)
    clean.load(network.coefs, network.intercepts)
    network.set_dropout([0.0, 0.3], "halving")
    X = np.random.default_rng(1).standard_normal((5, 3))
    W, b = network.coefs[1], network.intercepts[1]
    hidden = X @ network.coefs[0] + network.intercepts[0]
    expected = 0.5 * hidden @ W + b
    np.testing.assert_allclose(
        network.forward(X, np.random.default_rng(2)), expected, rtol=1e-12
    )
    np.testing.assert_allclose(clean.forward(X), hidden @ W + b, rtol=1e-12)


def test_the_docstrings_list_every_registered_kind(monkeypatch):
    fresh_registry(monkeypatch, _noise, "NOISE", Noise)

    class Halving(Noise):
        """``'halving'``: every unit at half
        its value (a test kind).

        More text that is not the summary.
        """

        name = "halving"

    documented = document_dropout_types(
        "one of DROPOUT_TYPE_NAMES:\n  DROPOUT_TYPE_LIST"
    )
    assert documented == (
        "one of 'halving':\n"
        "  - ``'halving'``: every unit at half its value (a test kind)."
    )


@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_estimator_docstrings_are_filled_from_the_registry(Estimator):
    assert "DROPOUT_TYPE_NAMES" not in Estimator.__doc__
    assert "DROPOUT_TYPE_LIST" not in Estimator.__doc__
    assert ", ".join(repr(name) for name in NOISE) in Estimator.__doc__


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_kind_made_for_another_activation_warns(activation, binary):
    X, y = binary
    model = DropoutMLPClassifier(
        hidden_layer_sizes=(4,), dropout_type="alpha", activation=activation, max_iter=1
    )
    assert NOISE["alpha"].designed_for_activation == "selu"
    with pytest.warns(UserWarning, match="designed for activation='selu'"):
        model.fit(X, y)


@pytest.mark.parametrize(
    "params",
    [
        {"activation": "selu", "dropout_type": "alpha"},
        {"activation": "relu", "dropout_type": "alpha", "dropout_rate": 0.0},
        {"activation": "relu", "dropout_type": "gaussian"},
    ],
)
def test_no_warning_where_the_kind_fits(params, binary):
    X, y = binary
    model = DropoutMLPClassifier(hidden_layer_sizes=(4,), max_iter=1, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        # ConvergenceWarning is a UserWarning too; one epoch does not converge.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
