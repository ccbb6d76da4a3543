"""BLAS threading: small networks run on one thread, and no second BLAS
library's thread pool is ever called next to NumPy's."""

import ast
import os
import pathlib
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
import threadpoolctl
from sklearn.exceptions import ConvergenceWarning
from support import start_in_background
from threadpoolctl import threadpool_info, threadpool_limits

from skdrop import DropoutMLPClassifier
from skdrop._core.network import Network
from skdrop._core.threads import (
    SMALL_PRODUCT_MACS,
    blas_thread_limit,
    limited_blas_threads,
)

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "skdrop"
BLAS_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_small_products_get_one_thread_and_large_ones_the_default():
    assert blas_thread_limit([64, 256, 10], 200) == 1
    assert blas_thread_limit([784, 1024, 1024, 10], 256) is None
    # The largest product decides, wherever it is in the network.
    assert blas_thread_limit([10, 10, 4000], 99) == 1
    assert blas_thread_limit([10, 10, 4000], SMALL_PRODUCT_MACS) is None


def test_limit_holds_inside_the_block_and_is_undone_after_it():
    before = _blas_threads()
    with limited_blas_threads(1):
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == before
    with limited_blas_threads(None):
        assert _blas_threads() == before


def _imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_package_never_calls_scipys_blas(path):
    # SciPy's wheel bundles its own OpenBLAS with its own thread pool; calling
    # it between NumPy's products made the two pools fight (a digits fit took
    # 20x longer with default threading).
    forbidden = {"scipy.linalg", "scipy.linalg.blas", "scipy.linalg.lapack"}
    assert not forbidden & set(_imported_modules(path))


FIT_SCRIPT = textwrap.dedent(
    """
    import time, warnings
    warnings.filterwarnings("ignore")
    from sklearn.datasets import load_digits
    from threadpoolctl import threadpool_limits
    from skdrop import DropoutMLPClassifier
    X, y = load_digits(return_X_y=True)
    X = X / 16

    def fit_seconds():
        start = time.perf_counter()
        DropoutMLPClassifier(hidden_layer_sizes=(256,), max_iter=8,
                             random_state=0).fit(X, y)
        return time.perf_counter() - start

    # Pinned first, so that no thread of the default pool is still spinning
    # from a default fit while a pinned one is timed.
    with threadpool_limits(limits=1, user_api="blas"):
        pinned = min(fit_seconds() for _ in range(3))
    default = min(fit_seconds() for _ in range(3))
    print(default, pinned)
    """
)


# What users get: no BLAS variable set. .ci/run pins one thread for the rest
# of the suite, so this run removes the variables itself. Started when pytest
# imports this module, at the tests' priority (it is timed): the interpreter's
# start (about 2 s) overlaps the tests before it on the second core.
DEFAULT_THREADING_RUN = start_in_background(
    [sys.executable, "-c", FIT_SCRIPT],
    niceness=0,
    env={k: v for k, v in os.environ.items() if k not in BLAS_VARIABLES},
)


def test_fit_with_default_threading_is_as_fast_as_pinned():
    # A second BLAS pool in the training step once made this ratio 20-30.
    # One process times both: pinned is every BLAS library (NumPy's and
    # SciPy's) limited to one thread by threadpoolctl, as
    # OPENBLAS_NUM_THREADS=1 would at start-up, and the second interpreter
    # start is saved.
    stdout, stderr = DEFAULT_THREADING_RUN.communicate(timeout=300)
    assert DEFAULT_THREADING_RUN.returncode == 0, stderr[-2000:]
    default, pinned = map(float, stdout.split()[-2:])
    assert default < 3 * pinned + 0.05, (default, pinned)


def _blas_threads_seen_by_forward(monkeypatch, fit_and_predict):
    seen = []
    forward = Network.forward

    def recording_forward(self, *args, **kwargs):
        seen.append(max(_blas_threads()))
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(Network, "forward", recording_forward)
    with threadpool_limits(2, user_api="blas"):
        fit_and_predict()
        after = max(_blas_threads())
    assert after == 2  # the limit is undone when the call returns
    return set(seen)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_small_network_trains_and_predicts_on_one_blas_thread(monkeypatch, solver):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 4)), rng.integers(2, size=60)
    model = DropoutMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=3, solver=solver, dropout_rate=0.0
    )

    def fit_and_predict():
        model.fit(X, y).predict_proba(X)
        model.predict_samples(X, n_samples=3, random_state=0)

    assert _blas_threads_seen_by_forward(monkeypatch, fit_and_predict) == {1}


def test_large_products_keep_the_default_threading(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 512)).astype(np.float32)
    y = rng.integers(2, size=300)
    model = DropoutMLPClassifier(hidden_layer_sizes=(512,), max_iter=1, batch_size=300)
    seen = _blas_threads_seen_by_forward(monkeypatch, lambda: model.fit(X, y))
    assert seen == {2}


# -- several threads at once --------------------------------------------------
def _thread_counts():
    return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info())


@pytest.fixture
def two_blas_threads():
    """Two BLAS threads, set without holding threadpoolctl's control.

    A ``with threadpool_limits`` block would make this thread the only one
    whose OpenBLAS limits take effect (threadpoolctl >= 3.8), hiding what the
    other threads do to the count.
    """
    release = getattr(
        threadpoolctl.OpenBLASController, "clear_controlling_thread", lambda: None
    )
    limiter = threadpool_limits(limits=2, user_api="blas")
    release()
    yield
    limiter.restore_original_limits()
    release()


def _in_threads(n_threads, work):
    barrier = threading.Barrier(n_threads)
    errors = []

    def run():
        barrier.wait()
        try:
            work()
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@pytest.mark.usefixtures("two_blas_threads")
def test_concurrent_predictions_leave_the_thread_counts_as_they_were(binary):
    X, y = binary
    model = DropoutMLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    before = _thread_counts()
    assert max(_blas_threads()) == 2

    def predict_50_times():
        for _ in range(50):
            model.predict_proba(X)

    _in_threads(8, predict_50_times)
    assert _thread_counts() == before


@pytest.mark.usefixtures("two_blas_threads")
def test_a_block_keeps_its_limit_while_another_threads_block_ends():
    inside, other_done = threading.Event(), threading.Event()
    seen = []

    def long_block():
        with limited_blas_threads(1):
            inside.set()
            other_done.wait(10)
            seen.append(max(_blas_threads()))

    def short_block():
        inside.wait(10)
        with limited_blas_threads(1):
            pass
        other_done.set()

    threads = [
        threading.Thread(target=long_block),
        threading.Thread(target=short_block),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [1]
    assert max(_blas_threads()) == 2


@pytest.mark.usefixtures("two_blas_threads")
def test_nested_limits_take_the_lowest_and_come_back_in_order():
    with limited_blas_threads(2):
        assert max(_blas_threads()) == 2
        with limited_blas_threads(1):
            assert max(_blas_threads()) == 1
        assert max(_blas_threads()) == 2
    assert max(_blas_threads()) == 2


def test_a_block_inside_a_lower_or_equal_limit_changes_nothing(monkeypatch):
    # Prediction inside fit (the dropout-free loss, every epoch) asks again
    # for the limit the fit holds: no controller is consulted, and the
    # outer block's limit still holds after the inner one ends.
    before = _blas_threads()
    with limited_blas_threads(1):
        monkeypatch.setattr(
            "skdrop._core.threads._controllers",
            lambda: pytest.fail("a nested block set a limit again"),
        )
        with limited_blas_threads(1), limited_blas_threads(2):
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {1}
        monkeypatch.undo()
    assert _blas_threads() == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_while_another_thread_holds_the_limit_can_use_it():
    # The lock is held only while a limit changes; a fork at that moment
    # used to leave the child waiting for a thread it does not have.
    from skdrop._core.threads import _SHARED_LIMIT

    with _SHARED_LIMIT._lock:  # as if another thread were changing the limit
        pid = os.fork()
        if pid == 0:  # the child: exit 0 if the lock can be taken
            os._exit(0 if _SHARED_LIMIT._lock.acquire(timeout=2) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
