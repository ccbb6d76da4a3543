"""Set-up, data and report writing shared by the dropout-model benchmarks.

``generalisation.py``, ``mc_averaging.py`` and ``uncertainty.py`` import this
module before anything else, because importing it

* limits BLAS to one thread, which only works if it happens before numpy is
  first imported, and
* puts the repository root first on ``sys.path``, so that ``import skdrop``
  benchmarks the working tree rather than an installed copy.

The scripts are run as ``python benchmarks/<name>.py``, which puts
``benchmarks/`` on ``sys.path``: that is how ``import _common`` finds this file.
``speed.py`` sets up its threads more strictly and does not use this module.
"""

import argparse
import os
import sys
import time
from pathlib import Path

# One BLAS thread per process: the machine has 2 cores and the benchmarks
# compare models, not threading. OpenBLAS and OpenMP read these variables when
# numpy loads them, hence before the numpy import below.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
sys.path.insert(0, str(REPO_ROOT))  # benchmark the working tree

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits, make_classification  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

# The two small-training-set classification problems, and how many of their
# rows are used for training (the rest are held out).
CLASSIFICATION_PROBLEMS = ("digits", "make_classification")
TRAIN_ROWS = {"digits": 300, "make_classification": 250}


def parse_benchmark_args(docstring, report_name, quick_help, argv=None):
    """Parse ``--quick``, ``--seeds`` and ``--output``; fill in the defaults.

    ``args.seeds`` comes back as the number of seeds to run (2 with
    ``--quick``, else 5, unless given) and ``args.output`` defaults to
    ``benchmarks/results/<report_name>.md``.
    """
    parser = argparse.ArgumentParser(description=docstring.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--seeds", type=int, default=None)
    default_output = RESULTS_DIR / f"{report_name}.md"
    parser.add_argument("--output", type=Path, default=default_output)
    args = parser.parse_args(argv)
    args.seeds = args.seeds or (2 if args.quick else 5)
    return args


def run_over_seeds(label, n_seeds, run_seed):
    """``[run_seed(seed) for seed in range(n_seeds)]``, with progress on stderr.

    Progress goes to stderr so that stdout carries only the report.
    """
    results = []
    for seed in range(n_seeds):
        print(f"{label}: seed {seed}", file=sys.stderr)
        results.append(run_seed(seed))
    return results


def load_classification_problem(name, seed):
    """Standardised (X_train, X_test, y_train, y_test) for one seed.

    ``name`` is one of ``CLASSIFICATION_PROBLEMS``: scikit-learn's 8x8 digits
    (64 features, 10 classes), or a 40-feature, 4-class
    ``make_classification`` problem with 10 informative features and 5 %
    flipped labels (2000 rows held out). The training set is small on
    purpose, so that a wide network can overfit it. The seed draws the split
    (and the synthetic data); the scaler is fitted on the training rows only.
    """
    if name == "digits":
        X, y = load_digits(return_X_y=True)
    else:
        X, y = make_classification(
            n_samples=2250,
            n_features=40,
            n_informative=10,
            n_redundant=5,
            n_classes=4,
            flip_y=0.05,
            random_state=seed,
        )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=TRAIN_ROWS[name], stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def mean_std(values, digits=3):
    """``"mean ± std"`` of ``values``, both to ``digits`` decimals."""
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def publish_report(title, summary, sections, start, output):
    """Print the markdown report and write it to ``output``.

    The report is the title, a summary paragraph, the sections separated by
    blank lines, and the time since ``start`` (a ``time.perf_counter()``
    value).
    """
    footer = f"Total time: {time.perf_counter() - start:.0f} s."
    report = "\n".join([title, "", summary, "", "\n\n".join(sections), "", footer])
    report += "\n"
    print(report)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
