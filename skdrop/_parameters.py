"""The estimators' parameters: their constraints and the checks beyond them.

The constraints of ``solver`` and ``dropout_type`` come from the registries
of the core (:data:`skdrop._core.optimizers.SOLVERS`, :data:`skdrop._core.noise.NOISE`),
so a new optimiser or kind of dropout is accepted without an edit here, and
those of the optimisers' hyper-parameters from each optimiser's declaration
(:func:`optimizer_constraints`); the
regressor's ``loss`` reads :data:`skdrop._core.losses.LOSSES` at every
validation (:class:`RegisteredOptions`).
"""

import itertools
import os
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)

from ._core.activations import HIDDEN_ACTIVATIONS
from ._core.noise import NOISE
from ._core.optimizers import OPTIMIZERS, SOLVERS


class RegisteredOptions(StrOptions):
    """The names ``names()`` returns, read at each validation.

    A loss registers when its class is defined, which may be after the
    estimators' constraints were built (a loss defined in the user's own
    module); reading the registry each time accepts it all the same.
    """

    def __init__(self, names):
        self._names = names
        super().__init__(set(names()))

    @property
    def options(self):
        return set(self._names())

    @options.setter
    def options(self, value):
        # StrOptions.__init__ assigns the names once; the registry stays the
        # source of truth.
        pass


def optimizer_constraints(registry):
    """The constraints of the optimisers' hyper-parameters, by estimator
    parameter, from each optimiser's ``hyperparameters`` declaration.

    Parameters
    ----------
    registry : dict
        Optimiser name -> ``Optimizer`` subclass (``OPTIMIZERS``).

    Returns
    -------
    constraints : dict
        Estimator parameter -> list of scikit-learn constraints.

    Raises
    ------
    TypeError
        If two optimisers allow different values for the same estimator
        parameter: one constructor parameter has one constraint.
    """
    allowed = {}
    for cls in registry.values():
        for declared in cls.hyperparameters.values():
            name = declared.estimator_parameter
            if allowed.setdefault(name, declared.allowed) != declared.allowed:
                raise TypeError(
                    f"Optimizer {cls.name!r} allows {declared.allowed!r} for "
                    f"{name!r}, another optimizer {allowed[name]!r}."
                )
    return {name: [_constraint(values)] for name, values in allowed.items()}


def _constraint(allowed):
    """scikit-learn's constraint for a ``Hyperparameter.allowed``."""
    if isinstance(allowed, tuple):
        low, high, closed = allowed
        return Interval(Real, low, high, closed=closed)
    if isinstance(allowed, frozenset):
        return StrOptions(set(allowed))
    return allowed  # 'boolean'


class ParametersMixin:
    """Parameter constraints and checks of ``BaseDropoutMLP``."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS))],
        "solver": [StrOptions(set(SOLVERS))],
        # A finite upper bound: scikit-learn's Interval with None accepts
        # inf, which makes the loss NaN.
        "alpha": [Interval(Real, 0, np.inf, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "dropout_rate": [
            "array-like",
            Interval(Real, 0, 1, closed="left"),
            StrOptions({"auto"}),
        ],
        "input_dropout_rate": [
            Interval(Real, 0, 1, closed="left"),
            StrOptions({"auto"}),
        ],
        "dropout_type": [StrOptions(set(NOISE))],
        "max_norm": [None, Interval(Real, 0, None, closed="neither")],
        "dropout_group_size": [
            None,
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"batch"}),
        ],
        # learning_rate_init, momentum, beta_1, ...: as the optimisers
        # declare them.
        **optimizer_constraints(OPTIMIZERS),
    }

    # -- parameters that need more than _parameter_constraints ------------
    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if any(not isinstance(s, Integral | np.integer) or s <= 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _dropout_rates(self, n_hidden):
        """One rate per layer that can be dropped: the input, then each hidden.

        Both rates are checked here, not only by ``_parameter_constraints``
        in ``fit``: prediction with dropout (``predict_samples``,
        ``return_std``) uses them as they are now, possibly changed by
        ``set_params`` after ``fit``.
        """
        rates = self.dropout_rate
        if _is_auto(rates):
            rates = ["auto"] * n_hidden
        try:
            ndim = np.ndim(rates)
        except ValueError:  # a ragged nested sequence
            ndim = -1
        if ndim == 0:
            rates = [rates] * n_hidden
        elif ndim != 1 or len(rates) != n_hidden:
            raise InvalidParameterError(
                "The 'dropout_rate' parameter of "
                f"{type(self).__name__} must be a float in [0, 1) or a flat "
                f"sequence of {n_hidden} such floats, one per hidden layer. "
                f"Got {self.dropout_rate!r:.200} instead."
            )
        if not all(_is_rate(rate) or _is_auto(rate) for rate in rates):
            raise InvalidParameterError(
                "The 'dropout_rate' parameter of "
                f"{type(self).__name__} must be a float in the range [0, 1), "
                "'auto', or a sequence of such floats, one per hidden layer. "
                f"Got {self.dropout_rate!r:.200} instead."
            )
        if not (_is_rate(self.input_dropout_rate) or _is_auto(self.input_dropout_rate)):
            raise InvalidParameterError(
                "The 'input_dropout_rate' parameter of "
                f"{type(self).__name__} must be a float in the range [0, 1) "
                f"or 'auto'. Got {self.input_dropout_rate!r:.200} instead."
            )
        return [_rate(self.input_dropout_rate)] + [_rate(r) for r in rates]

    def _check_max_norm(self):
        if self.max_norm is not None and not self._solver_is_stochastic():
            raise ValueError(
                f"max_norm={self.max_norm} cannot be used with "
                f"solver={self.solver!r}: the bound is kept by rescaling the "
                "weights after every mini-batch step, and L-BFGS takes no such "
                "steps. Use solver='adam' or 'sgd', or set max_norm=None."
            )

    def _check_network_size(self, layer_units, dtype, rows_per_step):
        """Refuse, before allocating it, a network too large for this machine.

        Counts the least a fit holds at once: parameters, gradient and the
        optimiser's arrays (SciPy's L-BFGS-B keeps about 25 float64 vectors
        of the parameters' length), and two activation-sized buffers per
        layer for a batch.
        """
        physical = _physical_memory()
        if physical is None:
            return
        itemsize = np.dtype(dtype).itemsize
        n_params = sum((a + 1) * b for a, b in itertools.pairwise(layer_units))
        if self._solver_is_stochastic():
            per_param = itemsize * (2 + len(OPTIMIZERS[self.solver].state_arrays))
        else:
            per_param = 2 * itemsize + 25 * 8
        needed = n_params * per_param + 2 * rows_per_step * sum(layer_units) * itemsize
        if needed > physical:
            raise ValueError(
                f"hidden_layer_sizes={self.hidden_layer_sizes!r:.100} makes a "
                f"network of {n_params:,} parameters (layer sizes "
                f"{layer_units}); fitting it takes at least "
                f"{needed / 2**30:,.1f} GiB of memory, more than the "
                f"{physical / 2**30:,.1f} GiB of this machine. Use smaller "
                "hidden layers."
            )

    def _solver_is_stochastic(self):
        """Whether ``solver`` trains by epochs of mini-batches (an optimiser
        of ``OPTIMIZERS``) rather than by L-BFGS on the whole data."""
        return self.solver in OPTIMIZERS

    def _learns_rates(self):
        """Whether any dropout rate is ``'auto'`` (learned in ``fit``)."""
        return _is_auto(self.dropout_rate) or _is_auto(self.input_dropout_rate)

    def _check_learned_rate_settings(self):
        """Learned rates train a relaxed Bernoulli mask per row: refuse the
        settings that need another mask."""
        name = "dropout_rate" if _is_auto(self.dropout_rate) else "input_dropout_rate"
        if self.dropout_group_size is not None:
            raise ValueError(
                f"{name}='auto' cannot be used with dropout_group_size="
                f"{self.dropout_group_size!r}: a learned rate trains through a "
                "relaxed mask drawn for every row, while shared masks skip the "
                "dropped units' weights. Set dropout_group_size=None or give "
                "fixed rates."
            )
        if self.dropout_type != "bernoulli":
            raise ValueError(
                f"{name}='auto' cannot be used with dropout_type="
                f"{self.dropout_type!r}: learned rates are those of Bernoulli "
                "dropout (Concrete dropout). Use dropout_type='bernoulli' or "
                "give fixed rates."
            )

    def _check_dropout_settings(self, rates):
        if not self._solver_is_stochastic() and any(rates):
            raise ValueError(
                "solver='lbfgs' cannot be used with dropout: dropout makes the "
                "training objective stochastic, and L-BFGS needs a deterministic "
                "loss and gradient. Use solver='adam' or 'sgd', or set "
                "dropout_rate=0 and input_dropout_rate=0."
            )
        if "auto" in rates:
            self._check_learned_rate_settings()
        if (
            self.dropout_group_size is not None
            and not NOISE[self.dropout_type].zeroes_dropped_units
        ):
            raise ValueError(
                f"dropout_group_size={self.dropout_group_size!r} cannot be used "
                f"with dropout_type={self.dropout_type!r}: rows that share a "
                "mask skip the dropped units' weights, which is exact only "
                "when a dropped unit outputs zero, as with 'bernoulli'. Use "
                "dropout_type='bernoulli' or dropout_group_size=None."
            )
        designed_for = NOISE[self.dropout_type].designed_for_activation
        if designed_for not in (None, self.activation) and any(rates):
            warnings.warn(
                f"dropout_type={self.dropout_type!r} is designed for "
                f"activation={designed_for!r}, whose mean and variance it "
                f"preserves; with activation={self.activation!r} it does not "
                "keep activations normalised.",
                UserWarning,
                stacklevel=3,
            )


def _is_auto(rate):
    """Whether a rate parameter asks for learned rates."""
    return isinstance(rate, str) and rate == "auto"


def _rate(rate):
    """A layer's rate: a float, or ``'auto'`` for a learned one."""
    return "auto" if _is_auto(rate) else float(rate)


def _physical_memory():
    """Bytes of physical memory, or ``None`` where the OS does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _is_rate(rate):
    """Whether ``rate`` is a real number in [0, 1) (NaN and booleans are not)."""
    return (
        isinstance(rate, Real | np.floating | np.integer)
        and not isinstance(rate, bool | np.bool_)
        and 0 <= rate < 1
    )
