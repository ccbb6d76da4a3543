"""Command line: python -m skdrop compare [options].

Compares scikit-learn's MLP with skdrop's dropout MLP by repeated
cross-validation, at their defaults and tuned with the same budget, on a
dataset bundled with scikit-learn or on a CSV file. Every option, the data
and the output paths are checked before any model is fitted; a problem is a
usage error (exit code 2). An interrupt stops the job (exit code 130) and
writes no report; reports that cannot be written leave the previous ones
unchanged (exit code 1).
"""

import contextlib
import io
import os
import sys
import time

from .._version import __version__
from .arguments import build_parser
from .files import same_file


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
    from .plot import draw_plot

    if option == "--json":
        return "JSON", "w", lambda stream: _report.write_json(report, stream)
    if option == "--markdown":
        text = _report.render_markdown(report)
        return "Markdown", "w", lambda stream: stream.write(text)
    image_format = os.path.splitext(path)[1][1:].lower()
    return (
        "figure",
        "wb",
        lambda stream: draw_plot(report, stream, image_format),
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
