"""Statistical properties of the dropout noise, and how the estimators wire it.

Every tolerance below is a multiple of the standard error of the quantity
tested, so each test holds for any seed with overwhelming probability; the
seeds are fixed anyway so that a failure is reproducible.
"""

import numpy as np
import pytest

import skdrop._base
import skdrop._prediction
from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._activations import selu
from skdrop._network import Network
from skdrop._noise import (
    NOISE,
    RATE_RESOLUTION,
    alpha_dropout_affine,
    draw_keep_mask,
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
    saturation = a * dropout_saturation() + b
    dropped = noise_factors(dropout, 2000)[0] == 0
    np.testing.assert_allclose(out[dropped], saturation)


def dropout_saturation():
    """SELU's negative saturation value, where alpha dropout sets dropped units."""
    from skdrop._activations import SELU_ALPHA, SELU_SCALE

    return -SELU_SCALE * SELU_ALPHA


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
    last_hidden = network._noisy[-1][:2000]
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


# -- wiring in the estimators ----------------------------------------------


class _RecordingNetwork(Network):
    """A Network that remembers every instance built, to inspect its noise."""

    built: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _RecordingNetwork.built.append(self)


@pytest.fixture
def recorded_networks(monkeypatch):
    _RecordingNetwork.built = []
    monkeypatch.setattr(skdrop._base, "Network", _RecordingNetwork)
    monkeypatch.setattr(skdrop._prediction, "Network", _RecordingNetwork)
    return _RecordingNetwork.built


@pytest.mark.parametrize("kind", ["bernoulli", "gaussian", "alpha"])
@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_per_layer_rates_reach_the_right_layers(recorded_networks, Estimator, kind):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 40))
    y = (X[:, 0] > 0).astype(int)
    rates = (0.1, 0.0, 0.6)
    estimator = Estimator(
        hidden_layer_sizes=(300, 200, 300),
        activation="selu" if kind == "alpha" else "relu",
        dropout_rate=rates,
        input_dropout_rate=0.3,
        dropout_type=kind,
        max_iter=1,
        random_state=0,
    ).fit(X, y)
    recorded_networks.clear()
    estimator.predict_samples(X, n_samples=1, random_state=0)
    (network,) = recorded_networks
    expected = [0.3, *rates]
    for layer, (dropout, rate) in enumerate(
        zip(network.dropouts, expected, strict=True)
    ):
        if rate == 0:
            assert dropout is None, layer
            continue
        assert dropout.name == kind
        assert dropout.rate == pytest.approx(rate, abs=1 / RATE_RESOLUTION)
        mult = noise_factors(dropout, 600)[0]
        if kind == "gaussian":
            variance = rate / (1 - rate)
            se = variance * np.sqrt(2 / mult.size)
            assert abs(mult.var() - variance) <= Z * se, layer
        else:
            se = np.sqrt(rate * (1 - rate) / mult.size)
            assert abs((mult == 0).mean() - rate) <= Z * se, layer


def test_training_uses_the_configured_noise(recorded_networks):
    X = np.random.default_rng(0).standard_normal((300, 20))
    y = X[:, 0]
    DropoutMLPRegressor(
        hidden_layer_sizes=(64, 64),
        dropout_rate=(0.5, 0.2),
        input_dropout_rate=0.1,
        dropout_type="gaussian",
        max_iter=2,
        random_state=0,
    ).fit(X, y)
    trained = [n for n in recorded_networks if n.has_dropout]
    assert trained, "the training network has no dropout"
    rates = [d.rate for d in trained[0].dropouts]
    assert rates == pytest.approx([0.1, 0.5, 0.2])


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


@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
@pytest.mark.parametrize("kind", list(NOISE))
def test_estimators_fit_with_a_rate_just_below_one(Estimator, kind):
    X = np.random.default_rng(0).standard_normal((60, 4))
    y = (X[:, 0] > 0).astype(int)
    model = Estimator(
        hidden_layer_sizes=(8,),
        dropout_rate=1 - 1e-7,
        dropout_type=kind,
        activation="selu",
        learning_rate_init=1e-4,
        max_iter=2,
        random_state=0,
    ).fit(X, y)
    assert np.isfinite(model.predict_samples(X, n_samples=2, random_state=0)).all()


def test_noise_registry_documents_every_kind():
    for Estimator in (DropoutMLPClassifier, DropoutMLPRegressor):
        for name, cls in NOISE.items():
            assert repr(name) in Estimator.__doc__
            assert cls.__doc__.split()[1] in Estimator.__doc__
