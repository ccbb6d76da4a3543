"""Checks of a saved optimiser state before it is trusted.

A model file carries the optimiser as a plain dict (``Optimizer.to_state``),
and a file may come from anywhere: every attribute is checked against what
the optimiser's class declares (its state arrays, the ranges of its scalars,
the options of its strings) before an optimiser is rebuilt from it. The
checks live apart from the update rules in :mod:`skdrop._core.optimizers`,
which only passes its registry in.
"""

import math
from numbers import Real

import numpy as np


def restored_optimizer(state, registry, n_params=None, dtype=None):
    """Rebuild an optimiser from ``Optimizer.to_state``'s dict, checking it.

    Parameters
    ----------
    state : dict
        ``{'kind': name, 'attributes': {...}}`` as ``to_state`` wrote it.
    registry : dict
        Optimiser name -> class (``OPTIMIZERS``).
    n_params : int or None, default=None
        Length every state array must have; ``None`` accepts any.
    dtype : numpy dtype or None, default=None
        Dtype every state array must have; ``None`` accepts any.

    Returns
    -------
    optimizer : Optimizer
        The optimiser, its attributes as saved (arrays copied).

    Raises
    ------
    ValueError
        Naming what is wrong: an unknown kind, missing or unknown attributes,
        non-numeric or out-of-range scalars, or state arrays that are not 1-D
        floating-point arrays of ``n_params`` entries of ``dtype``.
    """
    cls = _optimizer_class(state, registry)
    attributes = dict(state["attributes"])
    expected = set(vars(cls(0, np.float64)))
    expected = {name for name in expected if not name.startswith("_")}
    if set(attributes) != expected:
        raise ValueError(
            f"The {cls.name!r} optimizer state has the attributes "
            f"{sorted(attributes)}, expected {sorted(expected)}."
        )
    for name, value in attributes.items():
        if name in cls.state_arrays:
            attributes[name] = _checked_array(cls.name, name, value, n_params, dtype)
        else:
            _check_scalar(cls, name, value)
    # Bypass __init__: moments and step counters are restored as they
    # were, rather than freshly initialised.
    optimizer = cls.__new__(cls)
    vars(optimizer).update(attributes)
    return optimizer


def _optimizer_class(state, registry):
    """The registered class ``state`` names, once its outer shape is checked."""
    if not isinstance(state, dict) or state.keys() != {"kind", "attributes"}:
        raise ValueError(
            "The optimizer state must be a dict with the keys 'kind' and "
            f"'attributes', got {state!r:.200}."
        )
    cls = registry.get(state["kind"])
    if cls is None:
        raise ValueError(
            f"Unknown optimizer kind {state['kind']!r:.100} in the optimizer "
            f"state; expected one of {sorted(registry)}."
        )
    return cls


def _check_scalar(cls, name, value):
    """Refuse a saved scalar that is not a finite number or string, a string
    not among its options, or a number outside its range."""
    if not isinstance(value, Real | str | np.number):
        raise ValueError(
            f"The {cls.name!r} optimizer state's {name!r} must be a "
            f"number or a string, got {type(value).__name__}."
        )
    if not isinstance(value, str) and not math.isfinite(value):
        raise ValueError(
            f"The {cls.name!r} optimizer state's {name!r} must be "
            f"finite, got {value!r}."
        )
    if name in cls.string_options and value not in cls.string_options[name]:
        raise ValueError(
            f"The {cls.name!r} optimizer state's {name!r} must be one of "
            f"{sorted(cls.string_options[name])}, got {value!r:.50}."
        )
    if name not in cls.scalar_ranges:
        return
    if isinstance(value, str):
        raise ValueError(
            f"The {cls.name!r} optimizer state's {name!r} must be a number, "
            f"got {value!r:.50}."
        )
    low, high, closed = cls.scalar_ranges[name]
    above = value >= low if closed in ("left", "both") else value > low
    below = value <= high if closed in ("right", "both") else value < high
    if not (above and below):
        left = "[" if closed in ("left", "both") else "("
        right = "]" if closed in ("right", "both") else ")"
        # Bounds as floats: a declared (0, 1) reads [0.0, 1.0] in the message.
        raise ValueError(
            f"The {cls.name!r} optimizer state's {name!r} must be in "
            f"{left}{float(low)}, {float(high)}{right}, got {value!r}."
        )


def _checked_array(kind, name, value, n_params, dtype):
    """A copy of a saved state array, if it has the right kind, shape and dtype."""
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        raise ValueError(
            f"The {kind!r} optimizer state's {name!r} must be a floating-point "
            f"array, got {type(value).__name__} of dtype "
            f"{getattr(value, 'dtype', None)}."
        )
    if value.ndim != 1 or (n_params is not None and value.size != n_params):
        raise ValueError(
            f"The {kind!r} optimizer state's {name!r} has shape {value.shape}, "
            f"expected ({n_params},): one entry per network parameter."
        )
    if dtype is not None and value.dtype != dtype:
        raise ValueError(
            f"The {kind!r} optimizer state's {name!r} has dtype {value.dtype}, "
            f"expected {np.dtype(dtype)} (the dtype of coefs_)."
        )
    return value.copy()
