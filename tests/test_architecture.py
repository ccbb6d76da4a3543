"""The layers of the package, read from the source (docs/architecture.rst).

The NumPy core knows nothing of the estimators or the command line: a core
module imports other core modules, the standard library, NumPy, SciPy and
threadpoolctl, nothing else. The estimator layer does not import the command
line. Every module stays at most MAX_MODULE_LINES long, every test module at
most MAX_TEST_LINES; the modules still longer are listed in KNOWN_LONG with
the reason, as strict expected failures, so that one that shrinks must leave
the list.

Modules are found by walking the package, and a module's layer follows from
its name (``_network``) or a folder it sits in (``_core/network.py``), so the
test keeps working when the layers move into subpackages.
"""

import ast
import pathlib
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "skdrop"
TESTS = pathlib.Path(__file__).resolve().parent

# The NumPy core, by module name without its leading underscore.
CORE = {
    "network",
    "noise",
    "concrete",
    "activations",
    "losses",
    "optimizers",
    "training",
    "montecarlo",
    "threads",
    "submatrix",
    "masking",
    "layout",
}
CORE_FOLDERS = {"_core", "core"}
# The command line: ``python -m skdrop`` and the comparison behind it.
CLI = {
    "__main__",
    "compare",
    "compare_data",
    "compare_files",
    "compare_report",
    "compare_stats",
}
CLI_FOLDERS = {"compare", "_compare", "cli", "_cli"}
# What a core module may import from outside the package.
CORE_THIRD_PARTY = {"numpy", "scipy", "threadpoolctl"}

MAX_MODULE_LINES = 400
MAX_TEST_LINES = 500
# Modules over the limit today, by path inside the package (a file name alone
# could repeat across subpackages), each with the reason; see issue 18.
KNOWN_LONG = {}


def _modules():
    """``(dotted name, path)`` of every module, relative to the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        yield ".".join(parts), path


def layer(dotted):
    """``'core'``, ``'cli'`` or ``'estimator'`` for a module name such as
    ``'_network'`` or ``'_core.network'``."""
    parts = dotted.split(".")
    # A package's __init__ belongs where the package does.
    stem = parts[-1] if parts[-1] != "__init__" else (parts[-2:-1] or [""])[0]
    if set(parts[:-1]) & CORE_FOLDERS or stem.lstrip("_") in CORE:
        return "core"
    if set(parts[:-1]) & CLI_FOLDERS or stem == "__main__" or stem.lstrip("_") in CLI:
        return "cli"
    return "estimator"


def imports_of(dotted, path):
    """Modules ``path`` imports anywhere (functions included): package modules
    as dotted names relative to the package, others as their top name with a
    ``'/'`` in front."""
    # Relative imports start from the module's package (an __init__'s own).
    package = dotted.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(_absolute(alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = _absolute(node.module)
                found.add(base)
                if base == "":  # from skdrop import compare
                    found.update(alias.name for alias in node.names)
                continue
            anchor = package[: len(package) - (node.level - 1)]
            if node.module:
                found.add(".".join([*anchor, node.module]))
            else:  # from . import _compare
                found.update(".".join([*anchor, a.name]) for a in node.names)
    return found


def _absolute(name):
    if name == "skdrop":
        return ""
    if name.startswith("skdrop."):
        return name.removeprefix("skdrop.")
    return "/" + name.split(".")[0]


MODULES = dict(_modules())


def test_the_layers_are_found():
    layers = {name: layer(name) for name in MODULES}
    assert {"_core.network", "_core.concrete", "_core.submatrix"} <= {
        n for n, kind in layers.items() if kind == "core"
    }
    assert layers["__main__"] == layers["compare.report"] == "cli"
    assert layers["compare.cli"] == layers["compare.__init__"] == "cli"
    assert layers["_core.__init__"] == "core"
    assert layers["_base"] == layers["_classifier"] == "estimator"
    assert layer("_core.network") == "core" and layer("compare.report") == "cli"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if layer(n) == "core"))
def test_core_imports_only_core_and_numerical_libraries(name):
    imported = imports_of(name, MODULES[name])
    inside = {m for m in imported if not m.startswith("/") and m}
    wrong = {m for m in inside if layer(m) != "core"}
    assert not wrong, f"{name} (core) imports {sorted(wrong)}"
    outside = {m[1:] for m in imported if m.startswith("/")}
    foreign = outside - CORE_THIRD_PARTY - set(sys.stdlib_module_names)
    assert not foreign, f"{name} (core) imports {sorted(foreign)}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if layer(n) == "estimator"))
def test_the_estimator_layer_does_not_import_the_command_line(name):
    imported = imports_of(name, MODULES[name])
    cli = {m for m in imported if m and not m.startswith("/") and layer(m) == "cli"}
    assert not cli, f"{name} imports the command line: {sorted(cli)}"


def test_a_core_module_that_imported_the_estimator_layer_would_fail(tmp_path):
    """The check reads function-level and relative imports too."""
    source = tmp_path / "_network.py"
    source.write_text("def f():\n    from ._base import BaseDropoutMLP\n")
    imported = imports_of("_network", source)
    assert "_base" in imported and layer("_base") == "estimator"


def _line_count(path):
    return len(path.read_text().splitlines())


def _size_cases():
    cases = []
    for name, path in MODULES.items():
        reason = KNOWN_LONG.get(path.relative_to(PACKAGE).as_posix())
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        cases.append(pytest.param(path, id=name, marks=marks))
    return cases


@pytest.mark.parametrize("path", _size_cases())
def test_no_module_is_longer_than_the_limit(path):
    lines = _line_count(path)
    assert lines <= MAX_MODULE_LINES, f"{path.name}: {lines} lines"


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.py")), ids=lambda path: path.name)
def test_no_test_module_is_longer_than_the_limit(path):
    lines = _line_count(path)
    assert lines <= MAX_TEST_LINES, f"{path.name}: {lines} lines"
