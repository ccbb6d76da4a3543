"""Activations work in place and their derivatives match finite differences."""

import numpy as np
import pytest

from skdrop._core import activations as act

Z = np.linspace(-4, 4, 41)


@pytest.mark.parametrize("name", sorted(act.HIDDEN_ACTIVATIONS))
def test_derivative_from_the_output_matches_finite_differences(name):
    f = act.HIDDEN_ACTIVATIONS[name]
    z = Z[np.abs(Z) > 1e-3]  # relu has no derivative at 0

    def value(z):
        out = z.copy()
        f(out)
        return out

    eps = 1e-6
    numerical = (value(z + eps) - value(z - eps)) / (2 * eps)
    delta = np.ones_like(z)
    act.DERIVATIVES[name](value(z), delta)
    np.testing.assert_allclose(delta, numerical, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("logistic", lambda z: 1 / (1 + np.exp(-z))),
        ("tanh", np.tanh),
        ("relu", lambda z: np.maximum(z, 0)),
        (
            "selu",
            lambda z: (
                act.SELU_SCALE * np.where(z > 0, z, act.SELU_ALPHA * (np.exp(z) - 1))
            ),
        ),
    ],
)
def test_activation_values(name, reference):
    out = Z.copy()
    act.HIDDEN_ACTIVATIONS[name](out)
    np.testing.assert_allclose(out, reference(Z), rtol=1e-12, atol=1e-15)


def test_activations_keep_float32():
    for f in [*act.HIDDEN_ACTIVATIONS.values(), *act.OUTPUT_ACTIVATIONS.values()]:
        out = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
        f(out)
        assert out.dtype == np.float32


def test_softmax_is_stable_for_extreme_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    act.softmax(logits)
    assert np.isfinite(logits).all()
    np.testing.assert_allclose(logits.sum(axis=1), 1.0)
    np.testing.assert_allclose(logits[0], [1.0, 0.0, 0.0])


def test_logistic_and_selu_do_not_overflow():
    z = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    logistic, selu = z.copy(), z.copy()
    with np.errstate(all="raise"):
        act.logistic(logistic)
        act.selu(selu)
    np.testing.assert_allclose(logistic[[0, -1]], [0.0, 1.0])
    assert selu[-1] == pytest.approx(act.SELU_SCALE * 1e4)


def test_selu_initialisation_has_variance_one_over_fan_in():
    bound = act.init_bound("selu", 400, 10)
    assert bound**2 / 3 == pytest.approx(1 / 400)


def test_glorot_bound_is_smaller_for_logistic():
    assert act.init_bound("logistic", 10, 10) < act.init_bound("relu", 10, 10)
