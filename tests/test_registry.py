"""Parts register where they live: named subclasses join their kind's registry."""

from skdrop._core.losses import LOSSES, Loss
from skdrop._core.noise import NOISE, Noise
from skdrop._core.optimizers import OPTIMIZERS, Optimizer
from skdrop._core.registry import Registered

SHAPES = {}
INSTANCES = {}


class Shape(Registered):
    registry = SHAPES


class Square(Shape):
    name = "square"


class Unnamed(Shape):
    """An intermediate base: no name, so not registered."""


class Circle(Unnamed):
    name = "circle"


class Counter(Registered):
    registry = INSTANCES
    registers_instances = True


class Tally(Counter):
    name = "tally"


def test_a_named_subclass_registers_its_class():
    assert {"square": Square, "circle": Circle} == SHAPES


def test_a_subclass_without_a_name_is_not_registered():
    assert Unnamed not in SHAPES.values()
    assert Shape not in SHAPES.values()


def test_a_kind_may_register_one_instance_of_each_part():
    assert isinstance(INSTANCES["tally"], Tally)
    assert list(INSTANCES) == ["tally"]


def test_kinds_keep_separate_registries():
    assert "square" not in INSTANCES and "tally" not in SHAPES
    assert "square" not in NOISE and "square" not in OPTIMIZERS


def test_the_core_parts_are_registered_by_their_base_classes():
    assert LOSSES and all(isinstance(loss, Loss) for loss in LOSSES.values())
    assert NOISE and all(issubclass(kind, Noise) for kind in NOISE.values())
    assert OPTIMIZERS and all(issubclass(o, Optimizer) for o in OPTIMIZERS.values())
    assert all(name == part.name for name, part in LOSSES.items())
    assert set(NOISE) == {"bernoulli", "gaussian", "alpha"}
    assert set(OPTIMIZERS) == {"sgd", "adam"}
