"""The NumPy core: one network, its noise, losses, optimisers and training loop.

Nothing here knows of the estimators or the command line: these modules
import NumPy, SciPy, threadpoolctl, the standard library and each other only
(``tests/test_architecture.py`` checks it). See ``docs/architecture.rst``.
"""
