"""The flat parameter vector walked in cache-sized blocks.

An optimiser's update and the L2 penalty's gradient make several passes over
vectors as long as the model; made block by block, every pass after the
first finds its block in the core's cache instead of main memory.
"""

import functools

import numpy as np

# Elements per block: the three or four vectors of an update then take at
# most 1 MiB (float64), the size of a core's L2 cache on current x86 CPUs.
# Measured on a 1.9-million-parameter update against whole-vector passes:
# SGD 1.4x (float32) and 1.9x (float64) faster, Adam 1.1x and 1.9x; smaller
# blocks pay more Python overhead per element.
UPDATE_BLOCK = 1 << 15


@functools.cache
def block_bounds(n):
    """``(start, stop)`` of each block of a vector of ``n`` entries."""
    return tuple(
        (start, min(start + UPDATE_BLOCK, n)) for start in range(0, n, UPDATE_BLOCK)
    )


def add_scaled(x, a, y, scratch):
    """``y += a * x`` in place, through ``scratch`` (at least ``x.size`` long)."""
    s = scratch[: x.size]
    np.multiply(x, float(a), out=s)
    y += s
