"""Command line: python -m skdrop compare [options].

Compares scikit-learn's MLP with skdrop's dropout MLP by repeated
cross-validation, at their defaults and tuned with the same budget, on a
dataset bundled with scikit-learn or on a CSV file. Every option, the data
and the output paths are checked before any model is fitted; a problem is a
usage error (exit code 2). An interrupt stops the job (exit code 130) and
writes no report; reports that cannot be written leave the previous ones
unchanged (exit code 1).
"""

import argparse
import contextlib
import io
import math
import os
import sys
import time

from .._version import __version__
from .files import check_output_path, same_file

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
    budget.add_argument(
        "--repeats",
        type=_bounded_int(1, 100),
        default=5,
        metavar="N",
        help="repetitions of the outer K-fold split (default: %(default)s)",
    )
    budget.add_argument(
        "--folds",
        type=_bounded_int(2, 100),
        default=2,
        metavar="K",
        help="outer folds (test sets) (default: %(default)s)",
    )
    budget.add_argument(
        "--inner-folds",
        type=_bounded_int(2, 100),
        default=2,
        metavar="K",
        help="folds of the tuning search inside each training set "
        "(default: %(default)s)",
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


def _check_combinations(args, compare):
    """Errors that need more than one option, found before any work."""
    if args.csv is not None and args.dataset is not None:
        compare.error("argument --csv: not allowed with --dataset")
    if args.csv is not None and args.target is None:
        compare.error("argument --csv: needs --target COLUMN")
    if args.csv is None and args.target is not None:
        compare.error("argument --target: only with --csv FILE")
    if args.csv is None and args.task is not None:
        compare.error("argument --task: only with --csv FILE (bundled data fix it)")
    if len(args.dropout_grid) != len(args.alpha_grid):
        compare.error(
            f"argument --alpha-grid: {len(args.alpha_grid)} values, but "
            f"--dropout-grid has {len(args.dropout_grid)}; the same budget needs "
            "as many candidates for both"
        )
    _check_outputs_distinct(args, compare)
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            compare.error(
                "argument --plot: needs matplotlib (pip install matplotlib, or "
                'pip install -e ".[test]")'
            )


def _outputs(args):
    """(option, path) of each report asked for."""
    return [
        (f"--{name}", getattr(args, name))
        for name in ("json", "markdown", "plot")
        if getattr(args, name) is not None
    ]


def _check_outputs_distinct(args, compare):
    """No report onto the input data or onto another report."""
    outputs = _outputs(args)
    for index, (option, path) in enumerate(outputs):
        if args.csv is not None and same_file(path, args.csv):
            compare.error(
                f"argument {option}: {path!r} is the input file --csv "
                f"{args.csv}; the report would overwrite the data"
            )
        for other_option, other in outputs[:index]:
            if same_file(path, other):
                compare.error(
                    f"argument {option}: {path!r} is also the {other_option} "
                    "file; give each report its own file"
                )


def _workers(n_jobs, n_splits):
    """Worker processes for ``--n-jobs``: at most one per split and per core.

    Returns the number and, when it is fewer than asked for, a note saying
    why (joblib would start every worker asked for, most of them idle).
    """
    from joblib import cpu_count

    cores = cpu_count()
    asked = n_jobs if n_jobs > 0 else max(cores + 1 + n_jobs, 1)
    workers = min(asked, cores, n_splits)
    if n_jobs <= 0 or workers == asked:
        return workers, None
    return workers, (
        f"--n-jobs {n_jobs} capped at {workers} ({n_splits} outer splits, "
        f"{cores} cores)"
    )


def compare(args, compare_parser):
    """Load and check the data, run the comparison, write the outputs."""
    from . import data as _data
    from . import report as _report
    from . import run as _run

    try:
        if args.csv is not None:
            dataset = _data.load_csv(args.csv, args.target, args.task)
        else:
            dataset = _data.load_bundled(args.dataset or "digits")
        _data.check_enough_rows(dataset, args.folds, args.inner_folds)
        _data.check_encoded_size(dataset)
    except _data.DataError as exc:
        compare_parser.error(str(exc))
    n_jobs, capped = _workers(args.n_jobs, args.repeats * args.folds)
    settings = _run.Settings(
        task=dataset.task,
        hidden=args.hidden,
        max_iter=args.max_iter,
        seed=args.seed,
        repeats=args.repeats,
        folds=args.folds,
        inner_folds=args.inner_folds,
        n_jobs=n_jobs,
        alpha_grid=args.alpha_grid,
        dropout_grid=args.dropout_grid,
        curves=args.plot is not None,
        n_jobs_requested=args.n_jobs,
    )
    try:
        _run.check_memory(dataset, settings)
    except ValueError as exc:
        compare_parser.error(f"argument --hidden: {exc}")
    if capped:
        print(f"python -m skdrop compare: {capped}", file=sys.stderr)
    start = time.perf_counter()
    results, ratio = _run.run_comparison(
        dataset, settings, _run.progress_wanted(args.quiet)
    )
    summary = _report.summarise(results, ratio, settings)
    report = _report.build_report(
        dataset, settings, summary, ratio, time.perf_counter() - start, __version__
    )
    failed = _print(_report.render_text(report))
    # The files are written even if the terminal report could not be.
    failed = _write_reports(args, report) or failed
    if failed is not None:
        raise ReportError(
            f"cannot write to standard output ({failed.strerror or failed})"
        )
    return report


def _print(text):
    """Print to stdout; return the error if it cannot take the text.

    A full disk or a closed pipe on stdout is reported on one line instead
    of a traceback; stdout then goes to /dev/null, or Python's flush at exit
    would fail again with a second message.
    """
    try:
        print(text, flush=True)
    except OSError as exc:
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exc
    return None


def _write_reports(args, report):
    """Every report asked for, all written or none changed.

    Returns the error of printing the "written" lines, if any.
    """
    from . import files as _files

    outputs = [
        (option, path, *_report_writer(option, path, report))
        for option, path in _outputs(args)
    ]
    try:
        _files.write_all([(path, mode, write) for _, path, _, mode, write in outputs])
    except OSError as exc:
        raise ReportError(
            f"cannot write the reports ({exc}); the previous files are unchanged"
        ) from exc
    failed = None
    for _, path, what, _, _ in outputs:
        failed = _print(f"{what} written to {path}") or failed
    return failed


def _report_writer(option, path, report):
    """(what it is, file mode, write(stream)) of one report."""
    from . import report as _report

    if option == "--json":
        return "JSON", "w", lambda stream: _report.write_json(report, stream)
    if option == "--markdown":
        text = _report.render_markdown(report)
        return "Markdown", "w", lambda stream: stream.write(text)
    image_format = os.path.splitext(path)[1][1:].lower()
    return (
        "figure",
        "wb",
        lambda stream: _report.draw_plot(report, stream, image_format),
    )


class ReportError(Exception):
    """The run finished but its reports could not be written (exit code 1)."""


def main(argv=None):
    """Entry point of ``python -m skdrop``; returns the exit code."""
    parser, compare_parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "compare":
        _check_combinations(args, compare_parser)
        try:
            compare(args, compare_parser)
        except KeyboardInterrupt:
            # Ctrl-C: a one-line note and the shell's usual code, no traceback.
            print("python -m skdrop compare: interrupted", file=sys.stderr)
            return 130
        except ReportError as exc:
            print(f"python -m skdrop compare: error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
