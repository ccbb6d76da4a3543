"""The Noise base class and its registry (the kinds' statistics: test_dropout)."""

import numpy as np
import pytest

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor, _noise
from skdrop._network import Network
from skdrop._noise import NOISE, RATE_RESOLUTION, Noise, drop_threshold


@pytest.mark.parametrize("Estimator", [DropoutMLPClassifier, DropoutMLPRegressor])
def test_dropout_type_constraint_is_the_registry(Estimator):
    (options,) = Estimator._parameter_constraints["dropout_type"]
    assert options.options == set(NOISE) == {"bernoulli", "gaussian", "alpha"}


def test_threshold_is_clamped_below_one():
    assert drop_threshold(0.5) == RATE_RESOLUTION // 2
    assert drop_threshold(1 - 1e-7) == RATE_RESOLUTION - 1
    assert drop_threshold(0.0) == 0


def test_a_new_kind_is_one_class(monkeypatch):
    monkeypatch.setattr(_noise, "NOISE", {})

    class Halving(Noise):
        """``'halving'``: every unit at half its value (a test kind)."""

        name = "halving"

        def sample(self, rng, n_rows):
            self._ensure_capacity(n_rows)
            self._mult[:n_rows] = 0.5

    assert {"halving": Halving} == _noise.NOISE
    monkeypatch.setattr("skdrop._network.NOISE", _noise.NOISE)
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


def test_kind_made_for_another_activation_warns():
    X = np.random.default_rng(0).standard_normal((30, 3))
    y = (X[:, 0] > 0).astype(int)
    model = DropoutMLPClassifier(
        hidden_layer_sizes=(4,), dropout_type="alpha", activation="relu", max_iter=1
    )
    assert NOISE["alpha"].designed_for_activation == "selu"
    with pytest.warns(UserWarning, match="designed for activation='selu'"):
        model.fit(X, y)
