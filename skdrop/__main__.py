"""``python -m skdrop``: the command line lives in :mod:`skdrop.compare.cli`.

This file stays a thin entry point so that ``python -m skdrop compare`` keeps
working while the command line's modules sit together in ``skdrop/compare/``.
"""

import sys

from .compare.cli import main

if __name__ == "__main__":
    sys.exit(main())
