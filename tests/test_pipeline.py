"""skdrop.pipeline_predict_samples: Monte Carlo dropout through a Pipeline."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor, pipeline_predict_samples


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5)) * [1, 10, 100, 1, 1]
    return X, X[:, 0] - X[:, 1] / 10, (X[:, 0] > 0).astype(int) + (X[:, 3] > 1)


def test_regressor_samples_equal_predict_samples_on_transformed_X(data):
    X, y, _ = data
    model = make_pipeline(
        StandardScaler(), PCA(4), DropoutMLPRegressor(max_iter=20, random_state=0)
    ).fit(X, y)
    samples = pipeline_predict_samples(model, X[:7], n_samples=11, random_state=3)
    assert samples.shape == (11, 7)
    Xt = model[:-1].transform(X[:7])
    direct = model[-1].predict_samples(Xt, n_samples=11, random_state=3)
    np.testing.assert_array_equal(samples, direct)
    # The passes differ (dropout is on), so the seed is what makes them equal.
    assert np.ptp(samples, axis=0).max() > 0


def test_classifier_samples_are_probabilities(data):
    X, _, y = data
    model = make_pipeline(
        StandardScaler(), DropoutMLPClassifier(max_iter=20, random_state=0)
    ).fit(X, y)
    samples = pipeline_predict_samples(model, X[:4], n_samples=5, random_state=0)
    assert samples.shape == (5, 4, 3)
    np.testing.assert_allclose(samples.sum(axis=-1), 1.0, rtol=1e-6)


def test_a_one_step_pipeline_passes_X_unchanged(data):
    X, y, _ = data
    model = make_pipeline(DropoutMLPRegressor(max_iter=5, random_state=0)).fit(X, y)
    np.testing.assert_array_equal(
        pipeline_predict_samples(model, X[:3], n_samples=2, random_state=1),
        model[-1].predict_samples(X[:3], n_samples=2, random_state=1),
    )


def test_errors_name_what_is_wrong(data):
    X = data[0]
    with pytest.raises(TypeError, match=r"must be a sklearn\.pipeline\.Pipeline"):
        pipeline_predict_samples(DropoutMLPRegressor(), X)
    with pytest.raises(TypeError, match="Ridge, has no predict_samples"):
        pipeline_predict_samples(make_pipeline(StandardScaler(), Ridge()), X)
    with pytest.raises(NotFittedError):
        pipeline_predict_samples(
            make_pipeline(StandardScaler(), DropoutMLPRegressor()), X
        )
