"""In-place BLAS level-1 updates on contiguous arrays.

NumPy's ``y += a * x`` builds the temporary ``a * x``; ``axpy`` does not,
which matters when ``x`` is the whole parameter vector of a network.
"""

from scipy.linalg import blas


def axpy(x, y, a):
    """``y += a * x`` in place (contiguous arrays of the same dtype)."""
    blas.get_blas_funcs("axpy", (y,))(x.ravel(), y.ravel(), a=a)


def scal(x, a):
    """``x *= a`` in place (a contiguous array)."""
    blas.get_blas_funcs("scal", (x,))(a, x.ravel())
