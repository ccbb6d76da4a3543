"""Parts that register where they live.

A kind of part (a loss, a kind of dropout noise, an optimiser) is a base
class with a registry: a dict from a name to the part. Every subclass that
sets ``name`` adds itself to its base's registry when its class statement
runs, so a new part is one class, and everything that offers, validates,
documents or persists parts reads the registry instead of a list of its
own.
"""


class Registered:
    """Base of a kind of part whose named subclasses register themselves.

    The kind's base class sets ``registry`` (a dict shared by the whole
    kind) and, if the registry holds one instance of each part rather than
    the class, ``registers_instances = True``. A subclass with ``name``
    None (an abstract intermediate) is not registered.
    """

    registry = None
    registers_instances = False
    name = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name is not None:
            cls.registry[cls.name] = cls() if cls.registers_instances else cls
