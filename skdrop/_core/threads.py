"""How many BLAS threads the network's matrix products may use.

OpenBLAS splits a product over every core once it exceeds a small size. For
the products of a small network that costs more than it saves: each call
wakes the other threads for a few microseconds of work, and when another
program keeps a core busy the woken threads wait for it, which made small
fits several times slower (a digits fit: 0.2 s alone, 0.7-3.4 s beside one
busy process). Products of ``SMALL_PRODUCT_MACS`` multiply-adds or more gain
from a second core (1.7-1.9x measured on 2 cores), so they keep the library's
default threading, as scikit-learn's MLP does.
"""

import collections
import contextlib
import functools
import itertools
import os
import threading

import threadpoolctl  # a dependency of scikit-learn
from threadpoolctl import ThreadpoolController

# Below this many multiply-adds in the largest product of a batch, one BLAS
# thread: 2 threads gained 1.0-1.6x at 3 million and 1.7-1.8x at 13 million
# (min of 30 products, 2-core machine, float32 and float64).
SMALL_PRODUCT_MACS = 4_000_000


@functools.cache
def _controllers():
    """The BLAS libraries whose thread count is (shared, per-thread) state.

    Building a controller scans the loaded libraries (about 0.7 ms); built
    once, each later limit costs about 13 microseconds. Most BLAS builds keep
    one thread count for the whole process; OpenBLAS built on OpenMP keeps
    one per calling thread (OpenMP's own setting), which each call can set
    and restore for itself.
    """
    blas = ThreadpoolController().select(user_api="blas")
    per_thread = blas.select(internal_api="openblas").select(threading_layer="openmp")
    own = {lib.filepath for lib in per_thread.lib_controllers}
    shared = [lib.filepath for lib in blas.lib_controllers if lib.filepath not in own]
    return blas.select(filepath=shared), per_thread


class _SharedLimit:
    """The lowest limit of the blocks running now, on the process's BLAS.

    Each block used to save the thread count, set its limit and put the
    saved count back; with blocks running in several threads, a block that
    started while another held the limit saved the limit, and finishing last
    left the whole process on one thread. Here the count from before the
    first block is kept until the last block ends, and every change happens
    under one lock.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._active = collections.Counter()  # limit -> blocks running with it
        self._saved = None  # what restores the counts from before the first block

    def reset_lock(self):
        self._lock = threading.Lock()

    def enter(self, controller, limit):
        with self._lock:
            if not self._active:
                self._saved = controller.limit(limits=limit, user_api="blas")
            elif limit < min(self._active):
                controller.limit(limits=limit, user_api="blas")
            self._active[limit] += 1
            _release_openblas_control()

    def leave(self, controller, limit):
        with self._lock:
            self._active[limit] -= 1
            if not self._active[limit]:
                del self._active[limit]
            if not self._active:
                self._saved.restore_original_limits()
                self._saved = None
            elif limit < min(self._active):
                controller.limit(limits=min(self._active), user_api="blas")
            _release_openblas_control()


def _release_openblas_control():
    # threadpoolctl >= 3.8 lets one thread at a time set OpenBLAS's shared
    # count and silently ignores the others; the thread that set it here
    # gives that up, so that whichever thread leaves last can restore it.
    openblas = getattr(threadpoolctl, "OpenBLASController", None)
    release = getattr(openblas, "clear_controlling_thread", None)
    if release is not None:
        release()


_SHARED_LIMIT = _SharedLimit()
# The limit of the innermost block the calling thread is running, if any.
_THIS_THREAD = threading.local()
if hasattr(os, "register_at_fork"):
    # A child forked while another thread held the lock would wait for it
    # forever: that thread does not exist in the child.
    os.register_at_fork(after_in_child=_SHARED_LIMIT.reset_lock)


def blas_thread_limit(layer_units, n_rows):
    """BLAS threads for a network's products on batches of ``n_rows`` rows.

    Parameters
    ----------
    layer_units : sequence of int
        Units per layer, input and output included.
    n_rows : int
        Rows per forward pass (a mini-batch or a prediction chunk).

    Returns
    -------
    limit : int or None
        1 when the largest product is small, otherwise ``None`` (leave the
        library's threading as it is).
    """
    largest = n_rows * max(a * b for a, b in itertools.pairwise(layer_units))
    return 1 if largest < SMALL_PRODUCT_MACS else None


@contextlib.contextmanager
def limited_blas_threads(limit):
    """Run the block with at most ``limit`` BLAS threads (``None``: no limit).

    Safe to use from several threads at once: the process's thread count is
    the lowest limit of the blocks running, and the count from before them
    comes back when the last one ends. While one thread is in such a block,
    the process's other threads share its BLAS limit as well.
    """
    held = getattr(_THIS_THREAD, "limit", None)
    if limit is None or (held is not None and held <= limit):
        # A block of this thread already holds the process at or below the
        # limit (prediction inside fit, once per epoch under dropout):
        # nothing would change, so none of the two limits is set again.
        yield
        return
    shared, per_thread = _controllers()
    _SHARED_LIMIT.enter(shared, limit)
    _THIS_THREAD.limit = limit
    try:
        with per_thread.limit(limits=limit, user_api="blas"):
            yield
    finally:
        _THIS_THREAD.limit = held
        _SHARED_LIMIT.leave(shared, limit)
