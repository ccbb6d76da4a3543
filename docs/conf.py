"""Sphinx configuration for the skdrop documentation.

Build with (the commands of README.md and getting_started.rst)::

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest

Formulas are rendered by a copy of MathJax that the ``sphinx-mathjax-offline``
package ships and the build copies into ``_static/mathjax``, so the pages
need no network connection (no CDN).

The example gallery executes every ``examples/plot_*.py`` script. Links to
the Python, NumPy and scikit-learn documentation (intersphinx) are only
enabled when docs.python.org can be reached; set ``SKDROP_DOCS_OFFLINE=1``
to switch them off explicitly.
"""

import os
import re
import socket
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

DOCS_DIR = Path(__file__).resolve().parent
REPO_ROOT = DOCS_DIR.parent
# Make the package importable from a source checkout without installing it.
sys.path.insert(0, str(REPO_ROOT))
# Helpers that live next to this file (the gallery's sort key).
sys.path.insert(0, str(DOCS_DIR))

import skdrop

# The gallery examples multiply small matrices, where a multi-threaded BLAS
# brings no speed-up and can be many times slower when the cores are shared
# with other work. Run the examples with one BLAS thread.
try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
    pass
else:
    threadpool_limits(limits=1, user_api="blas")

# -- Project information ----------------------------------------------------

project = "skdrop"
author = "skdrop developers"
copyright = "skdrop developers"
version = skdrop.__version__
release = skdrop.__version__

# -- General configuration --------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    # Points mathjax_path at the bundled MathJax 3 (tex-chtml.js) and copies it.
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"
default_role = "literal"

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}

# numpydoc renders the docstrings; the autosummary tables in the API pages
# already list the methods, so numpydoc's own member tables would duplicate
# them (and produce "duplicate object description" warnings).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# Methods inherited from scikit-learn (score, get_params, set_*_request, ...)
# bring docstrings that point at labels and glossary terms of scikit-learn's
# own documentation. Those targets do not exist here (and not offline), so
# such references are turned into plain literal text.
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")


def _fix_docstring(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if not module.startswith("sklearn"):
        return
    for index, line in enumerate(lines):
        lines[index] = _SKLEARN_ROLE.sub(
            lambda match: f"``{(match.group(1) or match.group(2)).strip()}``", line
        )


def setup(app):
    app.connect("autodoc-process-docstring", _fix_docstring)


# -- Intersphinx, only with a network ---------------------------------------


def _network_available(host="docs.python.org", port=443, timeout=2.0):
    """Whether a short TCP connection to ``host`` succeeds."""
    if os.environ.get("SKDROP_DOCS_OFFLINE", "") not in ("", "0"):
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


if _network_available():
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "sklearn": ("https://scikit-learn.org/stable/", None),
    }
    intersphinx_timeout = 5

# -- Example gallery --------------------------------------------------------


sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Execute every plot_*.py script (the default pattern only runs
    # scripts whose name begins with "plot", spelled here on purpose).
    "filename_pattern": r"/plot_.*\.py$",
    "ignore_pattern": r"__init__\.py",
    # Stories in the order they build on each other (see _gallery_order.py).
    "within_subsection_order": "_gallery_order.StoryOrder",
    "download_all_examples": False,
    # The computation-time pages load a table library from a CDN; the docs
    # must work offline.
    "write_computation_times": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "plot_gallery": "True",
    # No mini-gallery backreferences: they would need intersphinx-free
    # module documentation pages and add little for a two-class package.
    "doc_module": (),
    "reference_url": {},
}

# -- HTML output ------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skdrop {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False
# Single pages have no section navigation to show in the left sidebar.
html_sidebars = {
    "index": [],
    "getting_started": [],
    "compare": [],
    "user_guide": [],
    "dropout_toolkit": [],
}
# In the page outline, list methods as "fit()", not "DropoutMLPClassifier.fit()".
toc_object_entries_show_parents = "hide"

# -- Doctest ----------------------------------------------------------------

doctest_global_setup = """
import numpy as np
"""
