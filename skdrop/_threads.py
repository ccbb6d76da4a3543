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

import contextlib
import functools
import itertools

from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn

# Below this many multiply-adds in the largest product of a batch, one BLAS
# thread: 2 threads gained 1.0-1.6x at 3 million and 1.7-1.8x at 13 million
# (min of 30 products, 2-core machine, float32 and float64).
SMALL_PRODUCT_MACS = 4_000_000


@functools.cache
def _controller():
    # Building a controller scans the loaded libraries (about 0.7 ms); one
    # built once makes each later limit cost about 13 microseconds.
    return ThreadpoolController()


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
    """Run the block with at most ``limit`` BLAS threads (``None``: no limit)."""
    if limit is None:
        yield
        return
    with _controller().limit(limits=limit, user_api="blas"):
        yield
