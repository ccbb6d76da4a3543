"""Small data sets shared by the tests.

Every fixture builds its arrays once per session and returns them read-only,
so a test that modified its input (or an estimator that did) fails loudly
instead of changing the data of the tests after it.
"""

import gc

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from sklearn.datasets import load_iris, make_classification, make_regression

# One hypothesis profile for every property test: the same cases on every run
# (derandomized, no example database), no deadline (a fit's time depends on
# the machine's load), and no complaint about generation that is slow (each
# case fits a network) or filtered (strategies for rejected inputs discard
# many draws). A test sets only its own case budget, ``max_examples``.
# ``pytest --hypothesis-profile=<name>`` can load another registered profile.
settings.register_profile(
    "skdrop",
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile("skdrop")


def _read_only(*arrays):
    for array in arrays:
        array.flags.writeable = False
    return arrays


@pytest.fixture(scope="session")
def classification():
    """300 rows, 8 features (5 informative), 3 classes."""
    return _read_only(
        *make_classification(
            n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=0
        )
    )


@pytest.fixture(scope="session")
def regression():
    """200 rows, 5 features, one target of unit standard deviation."""
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    return _read_only(X, y / y.std())


@pytest.fixture(scope="session")
def binary():
    """120 rows, 4 standard normal features, two classes split by a line."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((120, 4))
    return _read_only(X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int))


@pytest.fixture(scope="session")
def iris():
    return _read_only(*load_iris(return_X_y=True))


@pytest.fixture(scope="module", autouse=True)
def _report_generated_cases(request):
    """Print how many cases a module's property tests generated.

    A module that counts its hypothesis examples in a ``GENERATED_CASES``
    dict gets the count printed after its last test, even under capture.
    """
    yield
    cases = getattr(request.module, "GENERATED_CASES", None)
    if cases is None:
        return
    name = request.module.__name__.rpartition(".")[2]
    message = f"{name}: {cases['count']} generated hypothesis cases"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        print(message)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n{message}")


# The garbage collector and the suite's long-lived objects. Collection
# imports scikit-learn, SciPy, pandas, dask, ONNX and skops and parses every
# test module: some 320,000 objects that live to the end, which each full
# collection walked again (16 of them in a run, 0.3-0.4 s each on a 2-core
# machine; and as many again while pytest collected). The collector is off
# while pytest collects; then one collection, and what is left is frozen
# (gc.freeze: never walked again). The tests run with the collector on, and
# their own garbage is collected as before.
def pytest_configure(config):
    gc.disable()


def pytest_collection_finish(session):
    gc.collect()
    gc.freeze()
    gc.enable()
