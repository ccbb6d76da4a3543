"""skdrop against scikit-learn's MLP as installed: default threading, pinned, busy.

Users run with no BLAS variable set, on machines where other programs run.
This benchmark times the same fits in fresh processes three ways:

* **default**: no ``*_NUM_THREADS`` variable (what a user gets);
* **pinned**: ``OPENBLAS_NUM_THREADS=1`` (one core, the per-core comparison);
* **busy**: default threading while another process keeps one core busy.

Each fit runs in its own subprocess so that the BLAS libraries start with the
environment under test; scikit-learn and skdrop alternate within a repeat, and
the report gives medians and the skdrop / scikit-learn ratio of each mode.

Run from the repository root::

    python benchmarks/threads.py            # about 3 minutes on 2 cores
    python benchmarks/threads.py --quick    # about 1 minute

The report is printed and written to ``benchmarks/results/threads.md``.
``speed.py`` runs this as its first section.
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
BLAS_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
MODES = ("default", "pinned", "busy")
# skdrop with its default per-row masks, and with masks shared by groups of
# 128 rows (dropout_group_size=128), which skips the dropped units' products.
MODELS = ("sklearn", "skdrop", "skdrop-grouped")

# Each workload prints the seconds of one fit of the model named in argv[1].
WORKLOADS = {
    "digits (X/16), (256,), adam, 30 epochs": """
        from sklearn.datasets import load_digits
        X, y = load_digits(return_X_y=True)
        X = X / 16
        params = dict(hidden_layer_sizes=(256,), max_iter=30, random_state=0)
        """,
    "5000 x 784 float32, (1024, 1024), sgd, batch 256, 2 epochs": """
        import numpy as np
        rng = np.random.default_rng(0)
        X = rng.standard_normal((5000, 784)).astype(np.float32)
        y = (X @ rng.standard_normal((784, 10))).argmax(axis=1)
        params = dict(hidden_layer_sizes=(1024, 1024), solver="sgd",
                      batch_size=256, max_iter=2, learning_rate_init=0.01,
                      random_state=0)
        """,
}

FIT_TEMPLATE = """
import sys, time, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, {root!r})
{setup}
if sys.argv[1] == "sklearn":
    from sklearn.neural_network import MLPClassifier as Model
else:
    from skdrop import DropoutMLPClassifier as Model
if sys.argv[1] == "skdrop-grouped":
    params["dropout_group_size"] = 128
start = time.perf_counter()
Model(**params).fit(X, y)
print(time.perf_counter() - start)
"""

BLAS_INFO_SCRIPT = """
import json, numpy, scipy.linalg, sklearn
from threadpoolctl import threadpool_info
print(json.dumps(threadpool_info()))
"""


def environment(mode):
    """The environment of a subprocess in ``mode`` (BLAS variables removed)."""
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARIABLES}
    if mode == "pinned":
        env["OPENBLAS_NUM_THREADS"] = "1"
    return env


@contextlib.contextmanager
def busy_core(mode):
    """Keep one core busy with another process while the block runs."""
    if mode != "busy":
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield
    finally:
        spinner.kill()
        spinner.wait()


def run_script(script, args, mode, timeout):
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=environment(mode),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def time_fit(setup, model, mode, timeout=600):
    script = FIT_TEMPLATE.format(root=str(REPO_ROOT), setup=textwrap.dedent(setup))
    return float(run_script(script, [model], mode, timeout))


def time_compare(mode, args, timeout=900):
    """Wall seconds of ``python -m skdrop compare`` (the README's main job)."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "skdrop", "compare", *args],
        env=environment(mode),
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=timeout,
        check=True,
    )
    return time.perf_counter() - start


def blas_libraries():
    """threadpoolctl's view of the BLAS libraries, as a fresh process loads them."""
    return json.loads(run_script(BLAS_INFO_SCRIPT, [], "default", 120))


def measure_fits(repeats, progress):
    """{(workload, mode): {model: [seconds, ...]}}, interleaved per repeat."""
    times = {}
    for workload, setup in WORKLOADS.items():
        for mode in MODES:
            with busy_core(mode):
                for _ in range(repeats):
                    for model in MODELS:
                        seconds = time_fit(setup, model, mode)
                        times.setdefault((workload, mode), {}).setdefault(
                            model, []
                        ).append(seconds)
            progress(f"{workload} [{mode}] done")
    return times


def measure_compare(repeats, args, progress):
    times = {}
    for mode in ("default", "pinned"):
        times[mode] = [time_compare(mode, args) for _ in range(repeats)]
        progress(f"compare [{mode}] done")
    return times


def fmt(values):
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def render(fit_times, compare_times, compare_args, libraries, repeats):
    lines = [
        "Medians (min-max) of "
        f"{repeats} fits per cell, each in a fresh process; seconds of fit alone.",
        "",
        "skdrop trains with dropout_rate=0.5 (its default), scikit-learn without "
        "dropout; 'grouped' is skdrop with dropout_group_size=128.",
        "",
        "| workload | mode | scikit-learn s | skdrop s | skdrop / scikit-learn "
        "| grouped s | grouped / scikit-learn |",
        "|---|---|---|---|---|---|---|",
    ]
    for (workload, mode), by_model in fit_times.items():
        sklearn = statistics.median(by_model["sklearn"])
        cells = [
            f"{fmt(by_model[m])} | {statistics.median(by_model[m]) / sklearn:.2f}x"
            for m in MODELS[1:]
        ]
        lines.append(
            f"| {workload} | {mode} | {fmt(by_model['sklearn'])} | "
            + " | ".join(cells)
            + " |"
        )
    lines.append("")
    lines.append("Slow-down from one busy process (busy / default, medians):")
    lines.append("")
    lines.append("| workload | scikit-learn | skdrop | grouped |")
    lines.append("|---|---|---|---|")
    for workload in WORKLOADS:
        cells = []
        for model in MODELS:
            busy = statistics.median(fit_times[(workload, "busy")][model])
            default = statistics.median(fit_times[(workload, "default")][model])
            cells.append(f"{busy / default:.2f}x")
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    if compare_times:
        default = statistics.median(compare_times["default"])
        pinned = statistics.median(compare_times["pinned"])
        lines += [
            "",
            f"`python -m skdrop compare {' '.join(compare_args)}` wall time: "
            f"default threading {fmt(compare_times['default'])} s, pinned "
            f"{fmt(compare_times['pinned'])} s (default / pinned "
            f"{default / pinned:.2f}x).",
        ]
    lines += ["", "BLAS libraries a fresh process loads (threadpoolctl):", ""]
    for lib in libraries:
        lines.append(
            f"- {lib.get('internal_api')} {lib.get('version')} "
            f"({lib.get('architecture', '?')}), {lib['num_threads']} threads, "
            f"{Path(lib['filepath']).name}"
        )
    return "\n".join(lines) + "\n"


def threading_section(quick=False, compare=True, progress=print):
    """Run the measurements; return the report as markdown."""
    repeats = 1 if quick else 3
    compare_args = ["--dataset", "iris"] if quick else []
    libraries = blas_libraries()
    fit_times = measure_fits(repeats, progress)
    compare_times = measure_compare(1, compare_args, progress) if compare else None
    return render(fit_times, compare_times, compare_args, libraries, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repeat")
    parser.add_argument(
        "--no-compare", action="store_true", help="skip timing the main job"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "threads.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report = "# Threading: skdrop and scikit-learn as installed\n\n"
    report += threading_section(
        args.quick,
        not args.no_compare,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    report += f"\nTotal time: {time.perf_counter() - started:.0f} s; "
    report += f"load average at end: {os.getloadavg()[0]:.2f}.\n"
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
