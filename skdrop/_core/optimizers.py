"""Optimisers that update one flat parameter vector in place.

All parameters of the network live in a single contiguous vector, so an
update is a handful of in-place ufuncs on blocks of it rather than a Python
loop of NumPy expressions with temporaries. The updates use NumPy only, never
SciPy's BLAS: SciPy's wheel ships a second OpenBLAS whose thread pool, called
between NumPy's matrix products, fights NumPy's pool for the cores (a digits
fit took 20x longer with default threading).

An update makes several passes over the parameters, the gradient and the
optimiser's state. Made over the whole model (megabytes, out of cache) each
pass is bound by memory bandwidth; so :class:`Optimizer` walks the vectors in
blocks small enough that every pass after the first finds its block in the
core's cache (:mod:`skdrop._core.blocks`), and adds the L2 penalty's gradient
there (:class:`skdrop._core.penalty.L2Penalty`). A subclass only says
how one block moves (:meth:`Optimizer._update_block`).

The optimisers follow scikit-learn's MLP conventions: the same update rules,
the same learning-rate schedules and the same stopping behaviour of the
``'adaptive'`` schedule, so that a model trained here without dropout takes
the same steps as ``MLPClassifier``.
"""

import math

import numpy as np

from .blocks import UPDATE_BLOCK, add_scaled, block_bounds
from .hyperparameters import Hyperparameter, derived
from .optimizer_state import restored_optimizer
from .registry import Registered

# name -> Optimizer subclass; every subclass with a ``name`` registers itself.
OPTIMIZERS = {}


class Optimizer(Registered):
    """A stochastic optimiser (base class).

    A subclass sets ``name`` (its ``solver``), ``state_arrays`` (the names
    of its per-parameter arrays), ``hyperparameters`` (constructor argument
    -> :class:`~skdrop._core.hyperparameters.Hyperparameter`, declared once:
    the estimator parameter that sets it and its allowed values) and
    ``state_ranges`` (the other saved scalars), and implements
    :meth:`_update_block`. The base class owns the block loop, the L2
    penalty, the state as a plain dict and the stopping decision.

    Parameters
    ----------
    n_params : int
        Length of the flat parameter vector.
    dtype : numpy dtype
    learning_rate_init : float
    """

    registry = OPTIMIZERS
    state_arrays = ()
    # Argument -> Hyperparameter: the estimator parameter that sets it and
    # what it allows. Finite upper bounds where infinity would make the loss
    # NaN (learning_rate_init) or freeze the weights (epsilon).
    hyperparameters = {
        "learning_rate_init": Hyperparameter(
            "learning_rate_init", (0, math.inf, "neither")
        ),
    }
    # Ranges of the other scalars of a saved state, which no estimator
    # parameter sets: name -> (low, high, closed).
    state_ranges = {"learning_rate": (0.0, math.inf, "left")}

    def __init_subclass__(cls, **kwargs):
        cls._derive_from_declarations()
        super().__init_subclass__(**kwargs)

    @classmethod
    def _derive_from_declarations(cls):
        """What ``from_parameters`` and the saved-state checks read."""
        cls.estimator_parameters, cls.scalar_ranges, cls.string_options = derived(
            cls.hyperparameters, cls.state_ranges
        )

    def __init__(self, n_params, dtype, learning_rate_init):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)

    @property
    def n_params(self):
        """Length of the parameter vector of the state arrays (None: none)."""
        for name in self.state_arrays:
            return getattr(self, name).size
        return None

    @classmethod
    def from_parameters(cls, n_params, dtype, parameters):
        """An optimiser configured from a mapping of estimator parameters."""
        kwargs = {
            arg: parameters[name] for name, arg in cls.estimator_parameters.items()
        }
        return cls(n_params, dtype, **kwargs)

    # -- one step -----------------------------------------------------------
    def step(self, params, grad, penalty=None, strength=0.0):
        """Move ``params`` against ``grad`` (flat vectors), in place.

        The gradient of ``penalty`` at ``strength`` is added to ``grad``
        first, block by block. ``grad`` is scratch space afterwards. Returns
        the penalty's value before the step (0.0 without a penalty).
        """
        self._begin_step()
        scratch = self._scratch_for(params)
        value = 0.0
        for start, stop in block_bounds(params.size):
            p, g = params[start:stop], grad[start:stop]
            if penalty is not None:
                value += penalty.add_gradient(p, g, strength, scratch, start)
            self._update_block(start, stop, p, g, scratch)
        return value

    def _begin_step(self):
        """Scalars that change once per step (before the blocks)."""

    def _update_block(self, start, stop, p, g, scratch):
        """Move the block ``p = params[start:stop]`` by its gradient ``g``."""
        raise NotImplementedError

    def _scratch_for(self, params):
        """A block-sized scratch buffer, made on the first step."""
        scratch = getattr(self, "_scratch", None)
        if scratch is None or scratch.dtype != params.dtype:
            size = min(UPDATE_BLOCK, max(params.size, 1))
            scratch = self._scratch = np.empty(size, dtype=params.dtype)
        return scratch

    # -- epochs and stopping -------------------------------------------------
    def iteration_ends(self, time_step):
        """Update the learning rate after an epoch of ``time_step`` samples."""

    def trigger_stopping(self, msg, verbose):
        """Decide whether a stalled run stops (True) or goes on (False).

        ``msg`` says why the run stalled; with ``verbose`` it is printed
        with what happens next.
        """
        stop, what_next = self._on_stall()
        if verbose:
            print(msg + what_next)
        return stop

    def _on_stall(self):
        """``(stop, message)`` for a stalled run; by default it stops."""
        return True, " Stopping."

    def match_dtype(self, dtype):
        """Cast the state arrays to ``dtype`` (the network's), if they differ.

        ``partial_fit`` on float32 data after float64 data trains a float32
        network; the moments carry on in its dtype.
        """
        for name in self.state_arrays:
            setattr(self, name, getattr(self, name).astype(dtype, copy=False))

    def non_finite_state(self):
        """Name of the first state array holding infinity or NaN, or ``None``.

        An overflowed state can leave the parameters finite but frozen (a
        step of ``m / inf`` is 0), so training checks it as well.
        """
        for name in self.state_arrays:
            if not np.isfinite(getattr(self, name)).all():
                return name
        return None

    # -- state as a plain dict -----------------------------------------------
    def to_state(self):
        """The optimiser as a plain dict of strings, numbers and arrays.

        A model file then never asks its reader to trust a skdrop class
        other than the estimator (skops).
        """
        attributes = {
            name: value.copy() if isinstance(value, np.ndarray) else value
            for name, value in vars(self).items()
            if not name.startswith("_")  # scratch space, not state
        }
        return {"kind": self.name, "attributes": attributes}

    @staticmethod
    def from_state(state, n_params=None, dtype=None):
        """Rebuild an optimiser from :meth:`to_state`'s dict, checking it.

        Raises ``ValueError`` naming what is wrong: an unknown kind, missing
        or unknown attributes, non-numeric scalars, or state arrays that are
        not 1-D floating-point arrays of ``n_params`` entries of ``dtype``
        (see :mod:`skdrop._core.optimizer_state`).
        """
        return restored_optimizer(state, OPTIMIZERS, n_params, dtype)


class SGD(Optimizer):
    """Stochastic gradient descent with (Nesterov) momentum.

    Parameters
    ----------
    n_params, dtype, learning_rate_init
        As for :class:`Optimizer`.
    lr_schedule : {'constant', 'invscaling', 'adaptive'}
    momentum : float in [0, 1]
    nesterov : bool
    power_t : float
    """

    name = "sgd"
    state_arrays = ("velocity",)
    hyperparameters = {
        **Optimizer.hyperparameters,
        "lr_schedule": Hyperparameter(
            "learning_rate", frozenset({"constant", "invscaling", "adaptive"})
        ),
        "momentum": Hyperparameter("momentum", (0, 1, "both")),
        "nesterov": Hyperparameter("nesterovs_momentum", "boolean"),
        # No upper bound, as scikit-learn's: a huge power_t sets the rate to 0.
        "power_t": Hyperparameter("power_t", (0, None, "left")),
    }

    def __init__(
        self,
        n_params,
        dtype,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
    ):
        super().__init__(n_params, dtype, learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocity = np.zeros(n_params, dtype=dtype)

    def _update_block(self, start, stop, p, g, scratch):
        # v <- momentum * v - lr * g; the parameters move by v, or for
        # Nesterov by momentum * v - lr * g.
        # The gradient is scratch after a step, so it becomes the plain step
        # -lr * g in place: one pass fewer than scaling it into a buffer
        # twice (the update took 1.27x, not 1.57x, the time of BLAS axpy
        # calls in float32; 1.09x, not 1.40x, in float64).
        lr, momentum = float(self.learning_rate), float(self.momentum)
        v = self.velocity[start:stop]
        g *= -lr
        v *= momentum
        v += g
        if self.nesterov:
            p += g
            add_scaled(v, momentum, p, scratch)
        else:
            p += v

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            try:
                decay = (time_step + 1) ** self.power_t
            except OverflowError:  # a huge power_t: the rate underflows to 0
                decay = math.inf
            self.learning_rate = float(self.learning_rate_init) / decay

    def _on_stall(self):
        # The 'adaptive' schedule first slows down, as scikit-learn's does.
        if self.lr_schedule != "adaptive":
            return True, " Stopping."
        if self.learning_rate <= 1e-6:
            return True, " Learning rate too small. Stopping."
        self.learning_rate /= 5.0
        return False, f" Setting learning rate to {self.learning_rate:f}"


# A stored Adam moment is rescaled to its true value before its scale would
# fall below this: it then stays within four orders of magnitude of the true
# moment, far from overflow, at the cost of one extra pass every few dozen
# steps (every 88 for beta_1 = 0.9).
MOMENT_SCALE_FLOOR = 1e-4


def _decayed_scale(scale, beta):
    """A stored moment's scale after one more decay by ``beta``.

    Returns the new scale and the factor to multiply the stored moment by in
    this step: ``None`` (no pass) unless the scale would fall below
    ``MOMENT_SCALE_FLOOR``, in which case the moment is rescaled to its true
    value (scale 1).
    """
    scale *= beta
    if scale >= MOMENT_SCALE_FLOOR:
        return scale, None
    return 1.0, scale


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2014) with bias-corrected step size.

    The moments are stored divided by how much they have decayed since they
    were last rescaled (``first_moment_scale``, ``second_moment_scale``: the
    true first moment is ``first_moment_scale * first_moment``). A step then
    adds the new gradient to them in one pass, with no pass to decay them.

    Parameters
    ----------
    n_params, dtype, learning_rate_init
        As for :class:`Optimizer`.
    beta_1, beta_2 : float in [0, 1)
        Decay rates of the first and second moments.
    epsilon : float
    """

    name = "adam"
    state_arrays = ("first_moment", "second_moment")
    hyperparameters = {
        **Optimizer.hyperparameters,
        "beta_1": Hyperparameter("beta_1", (0, 1, "left")),
        "beta_2": Hyperparameter("beta_2", (0, 1, "left")),
        "epsilon": Hyperparameter("epsilon", (0, math.inf, "neither")),
    }
    state_ranges = {
        **Optimizer.state_ranges,
        "t": (0.0, math.inf, "left"),
        "first_moment_scale": (0.0, 1.0, "right"),
        "second_moment_scale": (0.0, 1.0, "right"),
    }

    def __init__(
        self,
        n_params,
        dtype,
        learning_rate_init=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
    ):
        super().__init__(n_params, dtype, learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.first_moment = np.zeros(n_params, dtype=dtype)
        self.second_moment = np.zeros(n_params, dtype=dtype)
        self.first_moment_scale = 1.0
        self.second_moment_scale = 1.0

    def _begin_step(self):
        self.t += 1
        self.learning_rate = (
            self.learning_rate_init
            * math.sqrt(1.0 - self.beta_2**self.t)
            / (1.0 - self.beta_1**self.t)
        )
        self.first_moment_scale, self._rescale_first = _decayed_scale(
            self.first_moment_scale, self.beta_1
        )
        self.second_moment_scale, self._rescale_second = _decayed_scale(
            self.second_moment_scale, self.beta_2
        )
        self._first_gain = (1.0 - self.beta_1) / self.first_moment_scale
        self._second_gain = (1.0 - self.beta_2) / self.second_moment_scale
        # m / (sqrt(v) + eps) written with the stored moments M and V:
        # (s1 / sqrt(s2)) * M / (sqrt(V) + eps / sqrt(s2)). Python floats
        # keep float32 arithmetic in float32.
        root = math.sqrt(self.second_moment_scale)
        # An epsilon below the dtype's smallest normal number rounds to 0 (or
        # loses precision) and 0 / 0 would follow where a gradient is 0 from
        # the start: it is used at that floor instead.
        tiny = float(np.finfo(self.second_moment.dtype).tiny)
        self._epsilon = max(self.epsilon / root, tiny)
        self._step_size = self.learning_rate * self.first_moment_scale / root

    def _update_block(self, start, stop, p, g, scratch):
        m = self.first_moment[start:stop]
        v = self.second_moment[start:stop]
        if self._rescale_first is not None:
            m *= float(self._rescale_first)
        add_scaled(g, self._first_gain, m, scratch)
        np.square(g, out=g)
        if self._rescale_second is not None:
            v *= float(self._rescale_second)
        add_scaled(g, self._second_gain, v, scratch)
        # The squared gradient is spent: its block becomes the step.
        np.sqrt(v, out=g)
        g += self._epsilon
        np.divide(m, g, out=g)
        add_scaled(g, -self._step_size, p, scratch)


# Every ``solver``: the registered optimisers, and L-BFGS, which needs no
# optimiser object (SciPy runs it; skdrop._core.training drives it).
SOLVERS = ("lbfgs", *OPTIMIZERS)
