"""The argument parser of ``python -m skdrop compare``.

Each option's type checks its value as argparse reads it (a bounded int, a
grid of rates or penalties, an output file with an allowed suffix), so that
a bad value is a usage error before any data are loaded;
:mod:`skdrop.compare.cli` checks what needs several options together and
runs the job.
"""

import argparse
import math
import os

from .._version import __version__
from .files import check_output_path

DESCRIPTION = (
    "Compare scikit-learn's MLP with skdrop's dropout MLP. Repeated K-fold "
    "cross-validation scores both at their defaults and both tuned with the same "
    "budget (scikit-learn over alpha, skdrop over dropout_rate, with an inner "
    "K-fold search on each training set), then reports each score with its 95 % "
    "interval and the paired difference from the corrected resampled t-test "
    "(Nadeau and Bengio 2003). Nothing is downloaded."
)
DATASETS = ("digits", "breast_cancer", "wine", "iris", "diabetes")
# 'auto': rates learned per layer (Concrete dropout), one more candidate; the
# alpha grid has as many, so that both searches have the same budget.
DEFAULT_DROPOUT_GRID = "0,0.1,0.3,0.5,auto"
DEFAULT_ALPHA_GRID = "0.0001,0.001,0.01,0.1,1"
PLOT_SUFFIXES = (".png", ".pdf", ".svg")
MAX_HIDDEN_UNITS = 100_000
# The default budget: 5 x 2-fold CV, 4 candidates x 2 inner folds, 100 units
# (scikit-learn's default width) and 100 epochs, so that the whole job on
# digits takes about half a minute on one core of a 2-core machine. 200
# epochs (scikit-learn's default) doubles that for no change in the verdict.
DEFAULT_MAX_ITER = 100
# The counts of the cross-validation, each at most MAX_CV_COUNT: option ->
# (lowest value, default, metavar, help).
MAX_CV_COUNT = 100
CV_COUNTS = {
    "--repeats": (1, 5, "N", "repetitions of the outer K-fold split"),
    "--folds": (2, 2, "K", "outer folds (test sets)"),
    "--inner-folds": (2, 2, "K", "folds of the tuning search inside each training set"),
}


def _bounded_int(low, high=None):
    """An argparse type: an integer in [low, high]."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, got {text!r}"
            ) from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


def _n_jobs(text):
    value = _bounded_int(-1024, 1024)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0 (use 1, 2, ... or -1 for all)")
    return value


def _hidden(text):
    """Comma-separated positive layer sizes, e.g. 100 or 128,64."""
    parse = _bounded_int(1, MAX_HIDDEN_UNITS)
    try:
        return tuple(parse(part) for part in text.split(","))
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"layer sizes ({text!r}): {exc}") from None


def _grid(low, high, high_open, words=()):
    """An argparse type: distinct comma-separated floats in a range (or one
    of ``words``, such as ``'auto'``)."""

    def number(part):
        return part.strip() if part.strip() in words else float(part)

    def parse(text):
        try:
            values = tuple(number(part) for part in text.split(","))
        except ValueError:
            also = "".join(f" or {word!r}" for word in words)
            raise argparse.ArgumentTypeError(
                f"expected comma-separated numbers{also}, got {text!r}"
            ) from None
        too_high = (lambda v: v >= high) if high_open else (lambda v: v > high)
        for value in values:
            if isinstance(value, str):
                continue
            if not math.isfinite(value) or value < low or too_high(value):
                closing = ")" if high_open else "]"
                raise argparse.ArgumentTypeError(
                    f"values must lie in [{low:g}, {high:g}{closing}, got {value:g}"
                )
        if len(set(values)) != len(values):
            raise argparse.ArgumentTypeError(f"values must be distinct, got {text!r}")
        return values

    return parse


def _output_file(suffixes=None):
    """An argparse type: a regular file that can be written in an existing
    folder (see :func:`skdrop.compare.files.check_output_path`)."""

    def parse(text):
        problem = check_output_path(text, suffixes)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return text

    return parse


def _input_file(text):
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    if not os.access(text, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text!r} cannot be read")
    return text


def build_parser():
    """The argument parser of ``python -m skdrop``."""
    parser = argparse.ArgumentParser(prog="python -m skdrop", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"skdrop {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser(
        "compare",
        help="compare scikit-learn's MLP with skdrop's dropout MLP",
        description=DESCRIPTION,
    )
    data = compare.add_argument_group("data")
    data.add_argument(
        "--dataset",
        choices=DATASETS,
        default=None,
        help="dataset bundled with scikit-learn (digits when no --csv is given)",
    )
    data.add_argument(
        "--csv",
        type=_input_file,
        metavar="FILE",
        help="your own data: a CSV file with a header row; numeric "
        "and categorical columns (needs pandas)",
    )
    data.add_argument(
        "--target", metavar="COLUMN", help="the column of --csv to predict"
    )
    data.add_argument(
        "--task",
        choices=("classification", "regression"),
        help="for --csv: the task (inferred from the target if "
        "omitted: non-numeric or at most 20 distinct integer "
        "values means classification)",
    )
    model = compare.add_argument_group("models (the same for both libraries)")
    model.add_argument(
        "--hidden",
        type=_hidden,
        default="100",
        metavar="N[,N...]",
        help="hidden layer sizes (default: %(default)s)",
    )
    model.add_argument(
        "--max-iter",
        type=_bounded_int(1, 1_000_000),
        default=DEFAULT_MAX_ITER,
        metavar="N",
        help="maximum number of epochs (default: %(default)s)",
    )
    model.add_argument(
        "--seed",
        type=_bounded_int(0, 2**32 - 1),
        default=0,
        metavar="N",
        help="random_state of the models and the cross-validation splits "
        "(default: %(default)s)",
    )
    budget = compare.add_argument_group("cross-validation and tuning budget")
    for flag, (lowest, default, metavar, text) in CV_COUNTS.items():
        budget.add_argument(
            flag,
            type=_bounded_int(lowest, MAX_CV_COUNT),
            default=default,
            metavar=metavar,
            help=f"{text} (default: %(default)s)",
        )
    budget.add_argument(
        "--dropout-grid",
        type=_grid(0.0, 1.0, True, words=("auto",)),
        default=DEFAULT_DROPOUT_GRID,
        metavar="P,P,...",
        help="dropout_rate values searched for skdrop; 'auto' learns the rates "
        "(default: %(default)s)",
    )
    budget.add_argument(
        "--alpha-grid",
        type=_grid(0.0, 1e6, False),
        default=DEFAULT_ALPHA_GRID,
        metavar="A,A,...",
        help="alpha values searched for scikit-learn, as many as --dropout-grid "
        "(default: %(default)s)",
    )
    run = compare.add_argument_group("running and output")
    run.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=1,
        metavar="N",
        help="parallel workers over the cross-validation splits (default: "
        "%(default)s; -1: "
        "one per core); capped at one per split and per core; each uses one "
        "BLAS thread",
    )
    run.add_argument(
        "--json",
        type=_output_file(),
        metavar="FILE",
        help="also write every score and setting as JSON",
    )
    run.add_argument(
        "--markdown",
        type=_output_file(),
        metavar="FILE",
        help="also write the report as Markdown",
    )
    run.add_argument(
        "--plot",
        type=_output_file(PLOT_SUFFIXES),
        metavar="FILE",
        help="also draw each candidate's test-fold score against "
        "dropout_rate and alpha (needs matplotlib)",
    )
    run.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (there is none when stderr is not a terminal either)",
    )
    return parser, compare
