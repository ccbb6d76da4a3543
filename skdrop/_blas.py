"""In-place BLAS level-1 updates on contiguous arrays.

NumPy's ``y += a * x`` builds the temporary ``a * x``; ``axpy`` does not,
which matters when ``x`` is the whole parameter vector of a network.
"""

import functools

from scipy.linalg import blas


@functools.cache
def _routine(name, dtype):
    # Looking a routine up costs several microseconds, as much as the
    # routine itself on the cache-sized blocks the optimisers update.
    return blas.get_blas_funcs(name, dtype=dtype)


def axpy(x, y, a):
    """``y += a * x`` in place (contiguous arrays of the same dtype)."""
    _routine("axpy", y.dtype)(x.ravel(), y.ravel(), a=a)


def scal(x, a):
    """``x *= a`` in place (a contiguous array)."""
    _routine("scal", x.dtype)(a, x.ravel())
