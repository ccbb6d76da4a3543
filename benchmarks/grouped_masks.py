"""Grouped dropout masks: epoch time of the submatrix step against scikit-learn.

The workload of issue 14: one epoch of mini-batch training (batch 256) of a
784-1024-1024-10 ReLU network on 20,000 synthetic rows, dropout 0.5 on both
hidden layers (none on the input), SGD with Nesterov momentum 0.9 and Adam.
Contenders, each timed per epoch:

* scikit-learn ``MLPClassifier`` without dropout (the reference of every
  ratio, same solver, same run);
* ``skdrop.DropoutMLPClassifier(dropout_rate=0.5)``: one mask per row,
  dropped units multiplied by zero (today's training step);
* ``DropoutMLPClassifier(dropout_rate=0.5, dropout_group_size=...)`` with
  one mask per group of 64 or 128 rows, or per mini-batch (``'batch'``):
  training steps on the kept submatrices (``skdrop._core.submatrix``);
* the dense BLAS floor: only the matrix products of a dense epoch.

Contenders run interleaved, in a rotated order each round, and the report
gives medians; with one BLAS thread the time is the process's CPU time,
with default threading it is wall time. A cProfile of single steps splits
the grouped step into products, gathers, scatters and the rest.

Run from the repository root::

    python benchmarks/grouped_masks.py            # 20,000 rows, 3 rounds
    python benchmarks/grouped_masks.py --default-rows 4000   # the shorter run
    python benchmarks/grouped_masks.py --quick    # 4,000 rows, 3 rounds
    python benchmarks/grouped_masks.py --threads pinned --rounds 5 --dtypes float32

The report is printed and written to ``benchmarks/results/grouped_masks.md``.
"""

import argparse
import contextlib
import cProfile
import datetime
import itertools
import platform
import pstats
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_info, threadpool_limits

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # benchmark the working tree

from skdrop import DropoutMLPClassifier  # noqa: E402
from skdrop._core import network as _network  # noqa: E402
from skdrop._core.network import Network  # noqa: E402

N_FEATURES, N_CLASSES = 784, 10
HIDDEN = (1024, 1024)
BATCH = 256
RATE = 0.5
ALPHA = 1e-4
LEARNING_RATES = {"sgd": 0.01, "adam": 0.001}
GROUPS = {"groups of 64": 64, "groups of 128": 128, "one per batch": "batch"}
# Targets of issue 14 (1 BLAS thread): epoch time / scikit-learn's, by dtype.
TARGETS = {
    "groups of 128": {"float32": 0.50, "float64": 0.60},
    "one per batch": {"float32": 0.40, "float64": 0.40},
}
SHARE_TARGET = 0.15


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="4,000 rows")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument(
        "--default-rows",
        type=int,
        default=None,
        help="rows, default threading",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument(
        "--threads",
        choices=("both", "pinned", "default"),
        default="both",
        help="1 BLAS thread, default threading, or both (default)",
    )
    parser.add_argument(
        "--output", type=Path, default=REPO_ROOT / "benchmarks/results/grouped_masks.md"
    )
    args = parser.parse_args(argv)
    args.rows = args.rows or (4000 if args.quick else 20000)
    args.default_rows = args.default_rows or args.rows
    args.dtypes = [np.dtype(d) for d in args.dtypes.split(",")]
    return args


def progress(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def make_rows(n_rows, dtype, seed, stream):
    """Standard-normal rows labelled by a fixed random linear teacher."""
    teacher = np.random.default_rng([seed, 1]).standard_normal((N_FEATURES, N_CLASSES))
    rng = np.random.default_rng([seed, stream])
    X = rng.standard_normal((n_rows, N_FEATURES))
    return X.astype(dtype), np.argmax(X @ teacher, axis=1)


# -- contenders ---------------------------------------------------------------
def estimator_params(solver, seed):
    return dict(
        hidden_layer_sizes=HIDDEN,
        solver=solver,
        alpha=ALPHA,
        batch_size=BATCH,
        learning_rate_init=LEARNING_RATES[solver],
        momentum=0.9,
        nesterovs_momentum=True,
        max_iter=1,
        shuffle=True,
        tol=0.0,
        n_iter_no_change=10**6,
        random_state=seed,
    )


def fit_sklearn(solver, seed, X, y):
    return MLPClassifier(**estimator_params(solver, seed)).fit(X, y)


def fit_per_row(solver, seed, X, y):
    model = DropoutMLPClassifier(dropout_rate=RATE, **estimator_params(solver, seed))
    return model.fit(X, y)


def fit_grouped(solver, group_size, seed, X, y):
    model = DropoutMLPClassifier(
        dropout_rate=RATE,
        dropout_group_size=group_size,
        **estimator_params(solver, seed),
    )
    return model.fit(X, y)


class ProfiledStep:
    """The benchmark's network with grouped masks, initialised parameters
    and one batch, for profiling single training steps."""

    def __init__(self, dtype, group_size):
        units = [N_FEATURES, *HIDDEN, N_CLASSES]
        self.rng = np.random.default_rng(0)
        self.network = Network(units, "relu", "softmax", dtype)
        self.network.initialize(self.rng)
        rates = [0.0] + [RATE] * len(HIDDEN)
        self.network.set_dropout(rates, group_size=group_size)
        self.X, y = make_rows(BATCH, dtype, 0, 4)
        self.Y = np.eye(N_CLASSES, dtype=dtype)[y]

    def run(self):
        self.network.train_step_gradient(self.X, self.Y, None, "log_loss", self.rng)


def fit_floor(seed, X):
    """Only the products of a dense epoch, into preallocated outputs."""
    rng = np.random.default_rng(seed)
    units = [N_FEATURES, *HIDDEN, N_CLASSES]
    Ws = [
        rng.standard_normal((a, b)).astype(X.dtype)
        for a, b in itertools.pairwise(units)
    ]
    Gs = [np.empty_like(W) for W in Ws]
    acts = [np.empty((BATCH, w), dtype=X.dtype) for w in units[1:]]
    for start in range(0, X.shape[0] - BATCH + 1, BATCH):
        A = X[start : start + BATCH]
        inputs = []
        for W, Z in zip(Ws, acts, strict=True):
            inputs.append(A)
            np.matmul(A, W, out=Z)
            A = Z
        for i in range(len(Ws) - 1, -1, -1):
            np.matmul(inputs[i].T, acts[i], out=Gs[i])
            if i:
                np.matmul(acts[i], Ws[i].T, out=acts[i - 1])


def contenders():
    """(label, solver, fit(seed, X, y)) for every timed contender."""
    out = []
    for solver in ("sgd", "adam"):
        out.append(("scikit-learn, no dropout", solver, _bind(fit_sklearn, solver)))
        out.append(("skdrop, one mask per row", solver, _bind(fit_per_row, solver)))
        for label, size in GROUPS.items():
            out.append((f"skdrop, {label}", solver, _bind_group(solver, size)))
    out.append(("dense BLAS floor", None, lambda seed, X, y: fit_floor(seed, X)))
    return out


def _bind(fit, solver):
    return lambda seed, X, y: fit(solver, seed, X, y)


def _bind_group(solver, size):
    return lambda seed, X, y: fit_grouped(solver, size, seed, X, y)


# -- measurement -------------------------------------------------------------
def measure(dtype, n_rows, n_rounds, pinned):
    """Median epoch time of every contender, and every round's time."""
    X, y = make_rows(n_rows, dtype, 0, 2)
    clock = time.process_time if pinned else time.perf_counter
    entries = contenders()
    times = {(label, solver): [] for label, solver, _ in entries}
    for round_ in range(n_rounds):
        shift = round_ % len(entries)
        for label, solver, fit in entries[shift:] + entries[:shift]:
            start = clock()
            fit(round_, X, y)
            times[label, solver].append(clock() - start)
        progress(f"{dtype.name} pinned={pinned}: round {round_ + 1}/{n_rounds}")
    return {key: statistics.median(v) for key, v in times.items()}, times


def step_profile(dtype, group_size):
    """Shares of one grouped step's time, from cProfile's own-time per function."""
    step = ProfiledStep(dtype, group_size)
    step.run()
    profiler = cProfile.Profile(time.process_time)
    n_steps = 20
    start = time.process_time()
    profiler.enable()
    for _ in range(n_steps):
        step.run()
    profiler.disable()
    total = time.process_time() - start
    shares = dict.fromkeys(PROFILE_CATEGORIES, 0.0)
    for (_, _, name), (_, _, own_time, _, _) in pstats.Stats(profiler).stats.items():
        shares[profile_category(name)] += own_time / total
    shares["overhead"] = sum(shares[c] for c in OVERHEAD_CATEGORIES)
    return {"total ms": 1e3 * total / n_steps, **shares}


def products_replay(dtype, group_size, n_steps=20):
    """Time of a grouped step against the time of its products alone.

    The shapes and operand layouts of every product of one step are
    recorded, then the same products run on preallocated arrays, the two
    interleaved; no profiler is involved. Returns (step ms, products ms).
    """
    step = ProfiledStep(dtype, group_size)
    recorded = []
    originals = _network._matmul_into, _network._matmul_transposed_a_into

    def recording(transposed_a):
        def record(A, B, out):
            recorded.append((A.shape, B.shape, transposed_a, B.flags.f_contiguous))
            return originals[transposed_a](A, B, out)

        return record

    _network._matmul_into, _network._matmul_transposed_a_into = (
        recording(False),
        recording(True),
    )
    try:
        step.run()
    finally:
        _network._matmul_into, _network._matmul_transposed_a_into = originals
    rng = np.random.default_rng(0)
    operands = []
    for a_shape, b_shape, transposed_a, b_transposed in recorded:
        A = rng.standard_normal(a_shape).astype(dtype)
        B = rng.standard_normal(b_shape[::-1] if b_transposed else b_shape)
        B = B.astype(dtype).T if b_transposed else B.astype(dtype)
        rows = a_shape[1] if transposed_a else a_shape[0]
        operands.append(
            (A.T if transposed_a else A, B, np.empty((rows, b_shape[1]), dtype))
        )
    step_times, product_times = [], []
    for _ in range(n_steps):
        start = time.process_time()
        step.run()
        step_times.append(time.process_time() - start)
        start = time.process_time()
        for A, B, out in operands:
            np.matmul(A, B, out=out)
        product_times.append(time.process_time() - start)
    return 1e3 * statistics.median(step_times), 1e3 * statistics.median(product_times)


# Substrings of cProfile's function names, by category; the first match wins.
PROFILE_CATEGORIES = {
    "products": ("matmul_",),
    "gather": ("take", "_gather"),
    "scatter": ("csr_todense", "scatter_add", "'at' of", "'cumsum'"),
    "zero grad": ("'fill'",),
    "masks+indices": (
        "random_raw",
        "unpackbits",
        "compress",
        "count_nonzero",
        "draw_",
        "_fill_keep_chunk",
        "kept_units",
    ),
    "elementwise+bias": (
        "relu",
        "softmax",
        "_forward",
        "_backward",
        "_output_delta",
        "'reduce'",
        "sum",
        "_wrapreduction",
    ),
    "loss": ("log_loss", "xlogy", "_weighted_mean", "_clip", "clip"),
    "rest (python, small ops)": ("",),
}
OVERHEAD_CATEGORIES = (
    "gather",
    "scatter",
    "zero grad",
    "masks+indices",
    "rest (python, small ops)",
)


def profile_category(name):
    return next(
        category
        for category, keys in PROFILE_CATEGORIES.items()
        if any(key in name for key in keys)
    )


# -- report ------------------------------------------------------------------
def ratio_table(medians_by_dtype, dtypes, time_name):
    header = ["contender", "solver"]
    for d in dtypes:
        header += [f"{d.name} {time_name} (s)", f"{d.name} / sklearn"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, solver, _ in contenders():
        row = [label, solver or "-"]
        for d in dtypes:
            medians = medians_by_dtype[d.name]
            value = medians[label, solver]
            if solver is None:
                refs = [medians["scikit-learn, no dropout", s] for s in ("sgd", "adam")]
                ratio = " / ".join(f"{value / r:.2f}" for r in refs) + " (sgd/adam)"
            else:
                ratio = f"{value / medians['scikit-learn, no dropout', solver]:.2f}"
            row += [f"{value:.2f}", ratio]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def range_table(raw_by_dtype):
    dtypes = list(raw_by_dtype)
    lines = [
        "| contender | solver | " + " | ".join(dtypes) + " |",
        "|---|---|" + "---|" * len(dtypes),
    ]
    for label, solver in next(iter(raw_by_dtype.values())):
        cells = [
            f"{min(raw_by_dtype[d][label, solver]):.2f}-"
            f"{max(raw_by_dtype[d][label, solver]):.2f}"
            for d in dtypes
        ]
        lines.append(f"| {label} | {solver or '-'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def target_lines(medians_by_dtype):
    lines = []
    for label, limits in TARGETS.items():
        for dtype, limit in limits.items():
            medians = medians_by_dtype.get(dtype)
            if medians is None:
                continue
            for solver in ("sgd", "adam"):
                ratio = (
                    medians[f"skdrop, {label}", solver]
                    / medians["scikit-learn, no dropout", solver]
                )
                verdict = "reached" if ratio <= limit else "missed"
                lines.append(
                    f"- {label}, {solver}, {dtype}: {ratio:.2f}x "
                    f"(target <= {limit:.2f}x): **{verdict}**"
                )
    return lines


def profile_table(profiles):
    keys = list(next(iter(profiles.values())))
    header = ["step", *keys]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, shares in profiles.items():
        cells = [f"{shares['total ms']:.1f}"] + [
            f"{100 * shares[k]:.0f} %" for k in keys[1:]
        ]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)


def replay_table(replays):
    lines = [
        "| step | step ms | products ms | not products |",
        "|---|---|---|---|",
    ]
    for name, (step, products) in replays.items():
        share = 1.0 - products / step
        lines.append(f"| {name} | {step:.1f} | {products:.1f} | {share:.0%} |")
    return "\n".join(lines)


def environment():
    info = threadpool_info()
    blas = "; ".join(
        f"{i['internal_api']} {i.get('version')} {i.get('architecture', '')} "
        f"({i['num_threads']} threads, {Path(i['filepath']).name})"
        for i in info
    )
    return [
        f"- date: {datetime.datetime.now().isoformat(timespec='minutes')}",
        f"- machine: {platform.machine()}, {platform.processor() or 'cpu ?'}, "
        f"load average at start {_load()}",
        f"- python {platform.python_version()}, numpy {np.__version__}",
        f"- threadpoolctl.threadpool_info(): {blas}",
    ]


def _load():
    with contextlib.suppress(OSError):
        return Path("/proc/loadavg").read_text().split()[0]
    return "?"


def main(argv=None):
    args = parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()
    env = environment()
    sections = []
    pinned_medians = {}
    modes = {"both": [True, False], "pinned": [True], "default": [False]}
    for pinned in modes[args.threads]:
        medians_by_dtype, raw_by_dtype = {}, {}
        n_rows = args.rows if pinned else args.default_rows
        for dtype in args.dtypes:
            limits = threadpool_limits(1) if pinned else contextlib.nullcontext()
            with limits:
                medians, raw = measure(dtype, n_rows, args.rounds, pinned)
            medians_by_dtype[dtype.name] = medians
            raw_by_dtype[dtype.name] = raw
        title = "1 BLAS thread (CPU time)" if pinned else "default threading (wall)"
        sections.append(f"## Epoch time, {title}, {n_rows} rows")
        sections.append(
            ratio_table(medians_by_dtype, args.dtypes, "CPU" if pinned else "wall")
        )
        sections.append(
            "Range (min-max) of the rounds, seconds:\n\n" + range_table(raw_by_dtype)
        )
        if pinned:
            pinned_medians = medians_by_dtype
    if pinned_medians:
        sections.append("## Targets of issue 14 (1 BLAS thread)")
        sections.append("\n".join(target_lines(pinned_medians)))
    profiles = {}
    with threadpool_limits(1):
        for dtype in args.dtypes:
            for label in ("groups of 128", "one per batch", "groups of 64"):
                progress(f"profile {dtype.name} {label}")
                profiles[f"{dtype.name}, {label}"] = step_profile(dtype, GROUPS[label])
    replays = {}
    with threadpool_limits(1):
        for dtype in args.dtypes:
            for label in ("groups of 128", "one per batch", "groups of 64"):
                replays[f"{dtype.name}, {label}"] = products_replay(
                    dtype, GROUPS[label]
                )
    sections.append("## Where a grouped step's time goes (1 BLAS thread)")
    sections.append(
        "cProfile with a process-time clock over 20 steps of one batch of 256 "
        "rows (sgd network, dropout 0.5 on both hidden layers); shares of the "
        "total, per function's own time. Products: the three `np.matmul` calls "
        "per layer and group. Gather: `np.take` of kept weight rows/columns and "
        "bias entries. Scatter: building the CSR index pattern and SciPy's "
        "`csr_todense` accumulation, bias `np.add.at`. Zero grad: filling the "
        "flat gradient. Masks+indices: random bits and kept index lists. "
        "'overhead' = gather + scatter + zero grad + masks + rest (the part the "
        f"issue wants <= {SHARE_TARGET:.0%}); activations, bias additions and "
        "the loss are work the dense step does too.\n\n" + profile_table(profiles)
    )
    sections.append(
        "Without a profiler: the median time of a step and of the same products "
        "alone (shapes and layouts recorded from a step, replayed on "
        "preallocated arrays, interleaved with the steps, 20 each); everything "
        "that is not a product is the rest, elementwise work included.\n\n"
        + replay_table(replays)
    )
    summary = (
        f"{args.rows} rows x {N_FEATURES} features, hidden {HIDDEN}, batch {BATCH}, "
        f"dropout {RATE} on both hidden layers, {args.rounds} interleaved rounds "
        "(rotated order), medians. Absolute times depend on the machine and on "
        "what else runs on it (the header gives the load average): rely on the "
        "same-run ratios."
    )
    report = "\n".join(
        [
            "# Grouped dropout masks: submatrix training step",
            "",
            summary,
            "",
            "\n".join(env),
            "",
            "\n\n".join(sections),
            "",
            f"Total time: {time.perf_counter() - start:.0f} s. Command: "
            f"`python benchmarks/grouped_masks.py {' '.join(argv or sys.argv[1:])}`",
            "",
        ]
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)


if __name__ == "__main__":
    main()
