"""Training and prediction speed of skdrop against scikit-learn, PyTorch and BLAS.

Section 0 (``benchmarks/threads.py``) times skdrop and scikit-learn as users
run them: fresh processes with default threading (no BLAS variable set),
pinned to one BLAS thread, and beside a busy process. The sections after it
time one epoch of mini-batch training of a (1024, 1024) ReLU network on 20,000
synthetic 784-feature rows for every contender, single-threaded by default
(``--threads default`` runs them with the library's default threading):

* scikit-learn ``MLPClassifier`` (``solver='sgd'`` and ``'adam'``, no dropout);
* ``skdrop.DropoutMLPClassifier`` with the same parameters and dropout 0.5,
  with one mask per row (the default) and with rows sharing masks
  (``dropout_group_size``: one per mini-batch, groups of 128 and of 64 rows),
  whose steps compute with the kept submatrices only;
* the equivalent PyTorch network on the CPU (skipped if torch is missing);
* the "BLAS floor": only the matrix products one epoch needs, with
  preallocated outputs, i.e. the time no numpy implementation can beat.

Contenders run interleaved (A, B, C, A, B, C, ...) so that drifts in machine
speed hit all of them alike; the report gives the median and the min-max range.
It also reports held-out accuracy (fast must not mean wrong), ``predict_proba``
throughput and extra peak memory on 100,000 rows, how the cost grows with the
number of samples and the layer width, and whether skdrop meets its targets.

Run from the repository root::

    python benchmarks/speed.py                 # full run, 5-9 minutes on 2 cores
    python benchmarks/speed.py --quick         # smoke run, about 1 minute
    python benchmarks/speed.py --dtypes float32 --hidden 512,512 --no-scaling
    python benchmarks/speed.py --threads default  # sections 1-3 unpinned
    python benchmarks/speed.py --no-threading  # skip section 0
    python benchmarks/speed.py --help          # every size is adjustable

The markdown report is printed and written to ``benchmarks/results/speed.md``
(``--output`` changes the path). Progress lines go to stderr.
"""

import os
import sys

# BLAS libraries read their thread count once, when they are loaded, so this
# must happen before numpy is imported. One thread makes sections 1-3 about
# the implementations, not about how well each one parallelises on 2 cores;
# section 0 measures default threading in subprocesses of its own.
PINNED = "--threads=default" not in sys.argv and not any(
    pair == ("--threads", "default")
    for pair in zip(sys.argv, sys.argv[1:], strict=False)
)
if PINNED:
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"

import argparse
import contextlib
import cProfile
import datetime
import itertools
import platform
import pstats
import statistics
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_info, threadpool_limits

REPO_ROOT = Path(__file__).resolve().parent.parent
# Benchmark the working tree, not whatever skdrop happens to be installed.
sys.path.insert(0, str(REPO_ROOT))

import threads

try:
    from skdrop import DropoutMLPClassifier
except ImportError as exc:  # the package may not be written yet
    DropoutMLPClassifier = None
    SKDROP_MISSING_REASON = f"{type(exc).__name__}: {exc}"
else:
    SKDROP_MISSING_REASON = None

try:
    import torch
except ImportError as exc:
    torch = None
    TORCH_MISSING_REASON = f"{type(exc).__name__}: {exc}"
else:
    TORCH_MISSING_REASON = None

N_FEATURES = 784
N_CLASSES = 10
DROPOUT_RATE = 0.5
ALPHA = 1e-4  # scikit-learn's default L2 penalty, mirrored in PyTorch
LEARNING_RATES = {"sgd": 0.01, "adam": 0.001}
SOLVERS = ("sgd", "adam")
MIB = 1024 * 1024

# Pass/fail thresholds of section 3.
TARGET_FIT_RATIO = 0.80
TARGET_FLOOR_PERCENT = {"sgd": 85.0, "adam": 75.0}
TARGET_PREDICT_SPEEDUP = 1.5
TARGET_PREDICT_PEAK_MIB = 64.0
TARGET_MASK_PERCENT = 5.0
# Grouped masks (issue 14): epoch time over scikit-learn's with the same
# solver, without dropout; per group size and dtype.
GROUP_SIZES = ("batch", 128, 64)
TARGET_GROUP_RATIO = {
    128: {"float32": 0.50, "float64": 0.60},
    "batch": {"float32": 0.40, "float64": 0.40},
}


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


@dataclass
class Config:
    n_samples: int
    hidden: tuple
    batch_size: int
    epochs: int
    repeats: int
    dtypes: tuple
    test_size: int
    predict_rows: int
    seed: int
    scaling: bool
    scaling_repeats: int
    scaling_n_samples: tuple
    scaling_widths: tuple
    scaling_width_n_samples: int
    quick: bool
    no_threading: bool
    output: Path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke run of about one minute")
    add(
        "--n-samples",
        type=int,
        help="training rows, also used by the width sweep (default 20000, quick 5000)",
    )
    add("--hidden", type=str, default="1024,1024", help="hidden layer widths")
    add("--batch-size", type=int, default=256)
    add("--epochs", type=int, default=1, help="epochs per fit (max_iter)")
    add("--repeats", type=int, help="timed fits per contender (default 3, quick 1)")
    add("--dtypes", type=str, default="float32,float64")
    add("--test-size", type=int, default=2000, help="held-out rows for accuracy")
    add("--predict-rows", type=int, help="rows for predict_proba (default 100000)")
    add("--seed", type=int, default=0)
    add("--no-scaling", action="store_true", help="skip section 2")
    add(
        "--threads",
        choices=("1", "default"),
        default="1",
        help="BLAS threads of sections 1-3 (section 0 measures both)",
    )
    add("--no-threading", action="store_true", help="skip section 0")
    add("--scaling-repeats", type=int, default=1, help="timed fits per point")
    add(
        "--output",
        type=Path,
        default=REPO_ROOT / "benchmarks" / "results" / "speed.md",
        help="markdown report path",
    )
    return parser.parse_args(argv)


def build_config(args):
    """Resolve defaults, which depend on --quick unless set explicitly."""

    def pick(value, full, quick):
        if value is not None:
            return value
        return quick if args.quick else full

    n_samples = pick(args.n_samples, 20000, 5000)
    return Config(
        n_samples=n_samples,
        hidden=tuple(int(w) for w in args.hidden.split(",")),
        batch_size=args.batch_size,
        epochs=args.epochs,
        repeats=pick(args.repeats, 3, 1),
        dtypes=tuple(np.dtype(d).name for d in args.dtypes.split(",")),
        test_size=args.test_size,
        predict_rows=pick(args.predict_rows, 100_000, 20_000),
        seed=args.seed,
        scaling=not args.no_scaling,
        scaling_repeats=args.scaling_repeats,
        scaling_n_samples=(2500, 5000, 10000) if args.quick else (5000, 20000, 80000),
        scaling_widths=(256, 512, 1024) if args.quick else (256, 1024, 2048),
        scaling_width_n_samples=n_samples,
        quick=args.quick,
        no_threading=args.no_threading,
        output=args.output,
    )


def progress(message):
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe_blas():
    """One line per BLAS/OpenMP library loaded, as threadpoolctl sees it now."""
    lines = []
    for info in threadpool_info():
        lines.append(
            f"{info.get('internal_api')} {info.get('version')}, "
            f"num_threads={info.get('num_threads')}, "
            f"architecture={info.get('architecture', 'n/a')}, "
            f"file={Path(info.get('filepath', '')).name}"
        )
    return lines


def describe_environment():
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__
        if torch
        else f"unavailable ({TORCH_MISSING_REASON})",
        "skdrop": skdrop_version(),
    }
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": f"{cpu_model()} ({os.cpu_count()} logical cores)",
        "versions": versions,
        "blas": describe_blas(),
        "torch_blas": torch_blas_description(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "load": load_average(),
    }


def load_average():
    """Other processes on the machine skew timings; record how busy it was."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def skdrop_version():
    if DropoutMLPClassifier is None:
        return f"unavailable ({SKDROP_MISSING_REASON})"
    import skdrop

    return getattr(skdrop, "__version__", "unknown")


def torch_blas_description():
    if torch is None:
        return "n/a"
    # torch ships its own BLAS; threadpoolctl does not always list it.
    backend = "MKL" if torch.backends.mkl.is_available() else "built-in/OpenBLAS"
    return f"{backend}, torch.get_num_threads()={torch.get_num_threads()}"


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def teacher_weights(seed):
    """A fixed random linear map whose argmax defines the labels, so that the
    problem is learnable and held-out accuracy says whether training worked."""
    rng = np.random.default_rng([seed, 1])
    return rng.standard_normal((N_FEATURES, N_CLASSES)) / np.sqrt(N_FEATURES)


def make_rows(n_rows, dtype, seed, stream):
    """Standard-normal rows and their teacher labels; ``stream`` keeps train,
    test and prediction rows independent. Drawn in float64 then cast, so the
    float32 and float64 runs see the same numbers."""
    rng = np.random.default_rng([seed, stream])
    X = rng.standard_normal((n_rows, N_FEATURES))
    y = np.argmax(X @ teacher_weights(seed), axis=1)
    return X.astype(dtype, copy=False), y


# --------------------------------------------------------------------------
# Measurement helpers
# --------------------------------------------------------------------------


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def traced(fn, *args):
    """Run ``fn`` under tracemalloc; return result, seconds and the peak of
    memory allocated during the call (numpy reports its buffers to tracemalloc,
    so this covers arrays, not just Python objects)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    try:
        result, seconds = timed(fn, *args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, seconds, peak - baseline


# --------------------------------------------------------------------------
# Contenders
# --------------------------------------------------------------------------


def estimator_params(solver, hidden, batch_size, epochs, seed):
    """Constructor parameters shared by MLPClassifier and DropoutMLPClassifier.

    tol=0 with a huge n_iter_no_change makes every fit run exactly ``epochs``
    epochs, whatever the loss does."""
    return dict(
        hidden_layer_sizes=hidden,
        solver=solver,
        alpha=ALPHA,
        batch_size=batch_size,
        learning_rate_init=LEARNING_RATES[solver],
        max_iter=epochs,
        shuffle=True,
        tol=0.0,
        n_iter_no_change=10**6,
        random_state=seed,
    )


def fit_sklearn(solver, hidden, batch_size, epochs, seed, X, y):
    model = MLPClassifier(**estimator_params(solver, hidden, batch_size, epochs, seed))
    return model.fit(X, y)


def fit_skdrop(solver, hidden, batch_size, epochs, seed, X, y, group_size=None):
    params = estimator_params(solver, hidden, batch_size, epochs, seed)
    model = DropoutMLPClassifier(
        dropout_rate=DROPOUT_RATE, dropout_group_size=group_size, **params
    )
    return model.fit(X, y)


class TorchMLP:
    """The same network in PyTorch, with a scikit-learn-like surface so the
    benchmark can score and predict with it like the other contenders."""

    def __init__(self, solver, hidden, batch_size, epochs, seed):
        self.solver = solver
        self.hidden = hidden
        self.batch_size = batch_size
        self.epochs = epochs
        self.seed = seed

    def _build_network(self, dtype):
        layers = []
        widths = (N_FEATURES, *self.hidden)
        for fan_in, fan_out in itertools.pairwise(widths):
            layers += [
                torch.nn.Linear(fan_in, fan_out),
                torch.nn.ReLU(),
                torch.nn.Dropout(DROPOUT_RATE),
            ]
        layers.append(torch.nn.Linear(widths[-1], N_CLASSES))
        network = torch.nn.Sequential(*layers).to(dtype)
        # scikit-learn's Glorot-uniform initialisation (weights and biases),
        # so that accuracy after one epoch is comparable.
        with torch.no_grad():
            for layer in network:
                if isinstance(layer, torch.nn.Linear):
                    bound = np.sqrt(6.0 / (layer.in_features + layer.out_features))
                    layer.weight.uniform_(-bound, bound)
                    layer.bias.uniform_(-bound, bound)
        return network

    def _build_optimizer(self, parameters):
        # scikit-learn adds alpha * W / batch_size to the gradient.
        weight_decay = ALPHA / self.batch_size
        if self.solver == "sgd":
            return torch.optim.SGD(
                parameters,
                lr=LEARNING_RATES["sgd"],
                momentum=0.9,
                nesterov=True,
                weight_decay=weight_decay,
            )
        return torch.optim.Adam(
            parameters, lr=LEARNING_RATES["adam"], weight_decay=weight_decay
        )

    def fit(self, X, y):
        torch.manual_seed(self.seed)
        X_t = torch.from_numpy(X)
        y_t = torch.from_numpy(y.astype(np.int64))
        self.network_ = self._build_network(X_t.dtype)
        optimizer = self._build_optimizer(self.network_.parameters())
        loss_fn = torch.nn.CrossEntropyLoss()
        rng = np.random.default_rng(self.seed)
        self.network_.train()
        for _ in range(self.epochs):
            order = torch.from_numpy(rng.permutation(len(X)))
            for start in range(0, len(X), self.batch_size):
                batch = order[start : start + self.batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(self.network_(X_t[batch]), y_t[batch])
                loss.backward()
                optimizer.step()
        return self

    def predict_proba(self, X):
        self.network_.eval()
        with torch.inference_mode():
            logits = self.network_(torch.from_numpy(X))
            return torch.softmax(logits, dim=1).numpy()

    def score(self, X, y):
        return float(np.mean(self.predict_proba(X).argmax(axis=1) == y))


def fit_torch(solver, hidden, batch_size, epochs, seed, X, y):
    return TorchMLP(solver, hidden, batch_size, epochs, seed).fit(X, y)


class BlasFloor:
    """The matrix products of one epoch and nothing else.

    Per batch: the forward products A[i] @ W[i] of every layer, the weight
    gradients A[i].T @ D[i] of every layer and the backpropagated deltas
    D[i] @ W[i].T of every hidden layer. Outputs are preallocated and batches
    are contiguous row slices, so no time goes to allocation or gathering."""

    def __init__(self, hidden, batch_size, dtype, seed):
        rng = np.random.default_rng([seed, 99])
        widths = (N_FEATURES, *hidden, N_CLASSES)
        self.batch_size = batch_size
        self.weights = [
            rng.uniform(-0.05, 0.05, (fan_in, fan_out)).astype(dtype)
            for fan_in, fan_out in itertools.pairwise(widths)
        ]
        self.activations = [np.empty((batch_size, w), dtype) for w in widths[1:-1]]
        self.outputs = np.empty((batch_size, N_CLASSES), dtype)
        self.deltas = [np.empty((batch_size, w), dtype) for w in widths[1:]]
        # Small random output deltas keep every product away from denormals.
        self.deltas[-1][...] = rng.standard_normal(self.deltas[-1].shape) * 0.01
        self.gradients = [np.empty_like(w) for w in self.weights]

    def run_epoch(self, X):
        for start in range(0, len(X), self.batch_size):
            self._run_batch(X[start : start + self.batch_size])

    def _run_batch(self, X_batch):
        m = len(X_batch)
        inputs = [X_batch, *(a[:m] for a in self.activations)]
        outputs = [*(a[:m] for a in self.activations), self.outputs[:m]]
        deltas = [d[:m] for d in self.deltas]
        for A, W, out in zip(inputs, self.weights, outputs, strict=True):
            np.matmul(A, W, out=out)
        for i in reversed(range(len(self.weights))):
            np.matmul(inputs[i].T, deltas[i], out=self.gradients[i])
            if i > 0:
                np.matmul(deltas[i], self.weights[i].T, out=deltas[i - 1])


def fit_floor(hidden, batch_size, epochs, seed, X):
    floor = BlasFloor(hidden, batch_size, X.dtype, seed)
    for _ in range(epochs):
        floor.run_epoch(X)


@dataclass
class Contender:
    label: str
    family: str  # "sklearn", "skdrop", "torch" or "floor"
    solver: str | None
    available: bool = True
    note: str = ""
    group_size: int | str | None = None  # skdrop's dropout_group_size

    @property
    def key(self):
        if self.group_size is None:
            return (self.family, self.solver)
        return (self.family, self.solver, self.group_size)

    def fit(self, cfg, X, y, hidden=None):
        """Train on X, y for ``cfg.epochs``; ``hidden`` overrides the widths
        (section 2). Returns the fitted model (None for the floor)."""
        hidden = hidden or cfg.hidden
        if self.family == "floor":
            return fit_floor(hidden, cfg.batch_size, cfg.epochs, cfg.seed, X)
        if self.group_size is not None:
            return fit_skdrop(
                self.solver, hidden, cfg.batch_size, cfg.epochs, cfg.seed, X, y,
                group_size=self.group_size,
            )  # fmt: skip
        fit_fn = {"sklearn": fit_sklearn, "skdrop": fit_skdrop, "torch": fit_torch}
        return fit_fn[self.family](
            self.solver, hidden, cfg.batch_size, cfg.epochs, cfg.seed, X, y
        )


def group_label(group_size):
    if group_size == "batch":
        return "one mask per batch"
    return f"groups of {group_size}"


def all_contenders():
    skdrop_note = (
        "" if DropoutMLPClassifier else f"unavailable: {SKDROP_MISSING_REASON}"
    )
    torch_note = "" if torch else f"skipped: {TORCH_MISSING_REASON}"
    contenders = [Contender("BLAS floor", "floor", None)]
    for solver in SOLVERS:
        contenders += [
            Contender("scikit-learn", "sklearn", solver),
            Contender(
                f"skdrop (dropout {DROPOUT_RATE})",
                "skdrop",
                solver,
                available=DropoutMLPClassifier is not None,
                note=skdrop_note,
            ),
            *(
                Contender(
                    f"skdrop (dropout {DROPOUT_RATE}, {group_label(size)})",
                    "skdrop",
                    solver,
                    available=DropoutMLPClassifier is not None,
                    note=skdrop_note,
                    group_size=size,
                )
                for size in GROUP_SIZES
            ),
            Contender(
                f"PyTorch (dropout {DROPOUT_RATE})",
                "torch",
                solver,
                available=torch is not None,
                note=torch_note,
            ),
        ]
    return contenders


# --------------------------------------------------------------------------
# Section 1: one epoch, every contender
# --------------------------------------------------------------------------


@dataclass
class FitRecord:
    contender: Contender
    dtype: str
    seconds: list = field(default_factory=list)  # per epoch, one per repeat
    accuracy: float | None = None
    fit_peak_bytes: int | None = None
    error: str | None = None

    @property
    def median(self):
        return statistics.median(self.seconds) if self.seconds else None


@dataclass
class PredictRecord:
    family: str
    dtype: str
    rows_per_second: float | None = None
    peak_bytes: int | None = None
    error: str | None = None


def warm_up_torch(contender, cfg, X, y):
    """A few untimed batches, so that PyTorch's one-off kernel and allocator
    set-up is not charged to its first timed fit."""
    short = 10 * cfg.batch_size
    contender.fit(cfg, X[:short], y[:short])


def run_repeat(contender, cfg, X, y, record, trace_memory):
    """One timed fit. With ``trace_memory`` (the first repeat) numpy-based
    contenders run under tracemalloc, which gives the fit's extra peak memory
    without an extra epoch; it costs microseconds per array allocation, which
    is negligible next to seconds of matrix products. PyTorch's allocator is
    invisible to tracemalloc and the floor allocates nothing while timed."""
    if trace_memory and contender.family in ("sklearn", "skdrop"):
        model, seconds, record.fit_peak_bytes = traced(contender.fit, cfg, X, y)
    else:
        model, seconds = timed(contender.fit, cfg, X, y)
    record.seconds.append(seconds / cfg.epochs)
    return model


def guarded(record, fn, *args):
    """Run one measurement; a failing contender is reported, not fatal."""
    if record.error is not None:
        return None
    try:
        return fn(*args)
    except Exception as exc:  # any failure goes into the report
        record.error = f"{type(exc).__name__}: {exc}"
        progress(f"    FAILED: {record.error}")
        return None


def benchmark_dtype(cfg, dtype, contenders):
    """Fit records and the fitted sgd model of each family for one dtype."""
    X, y = make_rows(cfg.n_samples, dtype, cfg.seed, stream=2)
    X_test, y_test = make_rows(cfg.test_size, dtype, cfg.seed, stream=3)
    runnable = [c for c in contenders if c.available]
    records = {c.key: FitRecord(c, dtype) for c in contenders}
    models = {}
    for contender in runnable:
        if contender.family == "torch":
            guarded(records[contender.key], warm_up_torch, contender, cfg, X, y)
    for repeat in range(cfg.repeats):
        for contender in runnable:
            record = records[contender.key]
            model = guarded(
                record, run_repeat, contender, cfg, X, y, record, repeat == 0
            )
            if model is not None:
                models[contender.key] = model
            if record.seconds and record.error is None:
                progress(
                    f"[{dtype}] repeat {repeat + 1}/{cfg.repeats} "
                    f"{contender.label} {contender.solver or ''}: "
                    f"{record.seconds[-1]:.3f} s/epoch"
                )
    for key, model in models.items():
        records[key].accuracy = guarded(records[key], model.score, X_test, y_test)
    return records, models


def measure_predict(family, model, X_predict):
    """Rows/s and extra peak memory of one predict_proba call on X_predict.

    A single traced call: tracemalloc only hooks allocations, of which
    predict_proba makes a handful, so its overhead is negligible here and the
    expensive call does not have to run twice."""
    record = PredictRecord(family, X_predict.dtype.name)
    if family == "torch":
        # tracemalloc cannot see PyTorch's allocator; report time only.
        _, seconds = timed(model.predict_proba, X_predict)
    else:
        _, seconds, record.peak_bytes = traced(model.predict_proba, X_predict)
    record.rows_per_second = len(X_predict) / seconds
    return record


PREDICT_FLOOR_CHUNK = 2048


def predict_floor(weights, X):
    """The forward products of a prediction and nothing else: X @ W1,
    H1 @ W2, ... in row chunks, into preallocated outputs."""
    outputs = [np.empty((PREDICT_FLOOR_CHUNK, W.shape[1]), X.dtype) for W in weights]
    for start in range(0, len(X), PREDICT_FLOOR_CHUNK):
        A = X[start : start + PREDICT_FLOOR_CHUNK]
        for W, out in zip(weights, outputs, strict=True):
            A = np.matmul(A, W, out=out[: len(A)])


def measure_predict_floor(weights, X_predict):
    record = PredictRecord("floor", X_predict.dtype.name)
    _, seconds = timed(predict_floor, weights, X_predict)
    record.rows_per_second = len(X_predict) / seconds
    return record


def benchmark_predict(cfg, dtype, models):
    X_predict, _ = make_rows(cfg.predict_rows, dtype, cfg.seed, stream=4)
    records = []
    fitted = models.get(("sklearn", "sgd")) or models.get(("skdrop", "sgd"))
    if fitted is not None:
        progress(f"[{dtype}] predict BLAS floor on {len(X_predict):,} rows")
        weights = [W.astype(dtype) for W in fitted.coefs_]
        records.append(measure_predict_floor(weights, X_predict))
    # Prediction does not depend on the solver: use each family's sgd model.
    for family in ("sklearn", "skdrop", "torch"):
        model = models.get((family, "sgd"))
        if model is None:
            continue
        progress(f"[{dtype}] predict_proba {family} on {len(X_predict):,} rows")
        record = PredictRecord(family, dtype)
        measured = guarded(record, measure_predict, family, model, X_predict)
        records.append(measured or record)
    return records


# The methods of skdrop._core.noise.Noise (Bernoulli) that draw and apply the
# noise; none calls another, so their cumulative times add up without double
# counting.
MASK_METHODS = ("sample", "apply", "apply_sparse", "backward")


def measure_mask_share(cfg, dtype):
    """Percentage of one skdrop sgd fit spent on dropout masks.

    The fit runs under cProfile with a CPU-time clock (so time lost to other
    processes is not counted); the share is the cumulative time of the
    ``Noise`` methods that draw masks and apply them (forward and
    backward) over the cumulative time of the whole fit.
    """
    if DropoutMLPClassifier is None:
        return None
    X, y = make_rows(cfg.n_samples, dtype, cfg.seed, stream=2)
    progress(f"[{dtype}] profiling dropout masks in one skdrop sgd fit")
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(
        fit_skdrop, "sgd", cfg.hidden, cfg.batch_size, cfg.epochs, cfg.seed, X, y
    )
    fit_seconds = mask_seconds = 0.0
    for (path, _, name), (*_, cumulative, _) in pstats.Stats(profiler).stats.items():
        if name == "fit_skdrop":
            fit_seconds = cumulative
        elif Path(path).name == "_noise.py" and name in MASK_METHODS:
            mask_seconds += cumulative
    return 100 * mask_seconds / fit_seconds if fit_seconds else None


def benchmark_section1(cfg):
    contenders = all_contenders()
    fit_records, predict_records, mask_shares = [], [], {}
    for dtype in cfg.dtypes:
        records, models = benchmark_dtype(cfg, dtype, contenders)
        fit_records += records.values()
        predict_records += benchmark_predict(cfg, dtype, models)
        del models
        mask_shares[dtype] = measure_mask_share(cfg, dtype)
    return fit_records, predict_records, mask_shares


# --------------------------------------------------------------------------
# Section 2: how cost grows with samples and width
# --------------------------------------------------------------------------


@dataclass
class ScalingPoint:
    sweep: str
    n_samples: int
    hidden: tuple
    median: dict = field(default_factory=dict)  # family -> s/epoch
    repeats: int = 0


def scaling_points(cfg):
    n_sweep = [("n_samples", n, 1024) for n in cfg.scaling_n_samples]
    width_sweep = [
        ("width", cfg.scaling_width_n_samples, w) for w in cfg.scaling_widths
    ]
    return n_sweep + width_sweep


def measure_scaling_point(cfg, n_samples, width, contenders):
    X, y = make_rows(n_samples, "float32", cfg.seed, stream=5)
    hidden = (width,) * len(cfg.hidden)
    seconds = {c.family: [] for c in contenders}
    for _ in range(cfg.scaling_repeats):
        for contender in contenders:
            _, elapsed = timed(contender.fit, cfg, X, y, hidden)
            seconds[contender.family].append(elapsed / cfg.epochs)
    return {family: statistics.median(s) for family, s in seconds.items()}


def section1_medians(cfg, fit_records):
    """The float32 sgd medians of section 1 keyed like a scaling point, so the
    point section 1 already measured (with more repeats) is not re-run."""
    if "float32" not in cfg.dtypes or len(set(cfg.hidden)) != 1:
        return {}
    medians = {}
    for family, solver in (("floor", None), ("sklearn", "sgd"), ("skdrop", "sgd")):
        record = find_fit(fit_records, family, solver, "float32")
        if record is not None and record.median is not None:
            medians[family] = record.median
    if not medians:
        return {}
    return {(cfg.n_samples, cfg.hidden[0]): (medians, cfg.repeats)}


def benchmark_section2(cfg, fit_records):
    """sgd only, float32 only: the floor, scikit-learn and skdrop."""
    contenders = [
        Contender("BLAS floor", "floor", None),
        Contender("scikit-learn", "sklearn", "sgd"),
    ]
    if DropoutMLPClassifier is not None:
        contenders.append(Contender("skdrop", "skdrop", "sgd"))
    cache = section1_medians(cfg, fit_records)
    points = []
    for sweep, n_samples, width in scaling_points(cfg):
        if (n_samples, width) not in cache:
            progress(f"[scaling] n_samples={n_samples:,} hidden width={width}")
            try:
                medians = measure_scaling_point(cfg, n_samples, width, contenders)
            except Exception as exc:  # report it, keep going
                progress(f"    FAILED: {type(exc).__name__}: {exc}")
                medians = {}
            cache[n_samples, width] = (medians, cfg.scaling_repeats)
        medians, repeats = cache[n_samples, width]
        hidden = (width,) * len(cfg.hidden)
        points.append(ScalingPoint(sweep, n_samples, hidden, medians, repeats))
    return points


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def fmt_seconds(record):
    if not record.seconds:
        return "-"
    return f"{record.median:.3f} ({min(record.seconds):.3f}-{max(record.seconds):.3f})"


def fmt_ratio(numerator, denominator, suffix="x"):
    if numerator is None or denominator is None or denominator == 0:
        return "-"
    return f"{numerator / denominator:.2f}{suffix}"


def fmt_percent(part, whole):
    if part is None or whole is None or whole == 0:
        return "-"
    return f"{100 * part / whole:.0f} %"


def fmt_mib(n_bytes):
    return "n/a" if n_bytes is None else f"{n_bytes / MIB:.1f}"


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def find_fit(fit_records, family, solver, dtype, group_size=None):
    """The record of a contender; ``group_size`` None is per-row masks."""
    for record in fit_records:
        c = record.contender
        if (c.family, c.solver, record.dtype, c.group_size) == (
            family,
            solver,
            dtype,
            group_size,
        ):
            return record
    return None


def record_note(record):
    if record.error:
        return f"failed: {record.error}"
    return record.contender.note


def render_header(env, cfg):
    v = env["versions"]
    lines = [
        "# skdrop speed benchmark",
        "",
        f"- date: {env['date']}; command: `{env['command']}`",
        f"- CPU: {env['cpu']}; load average (1, 5, 15 min) at start: {env['load']}",
        f"- python {v['python']}, numpy {v['numpy']}, scipy {v['scipy']}, "
        f"scikit-learn {v['scikit-learn']}, torch {v['torch']}, skdrop {v['skdrop']}",
        "- BLAS of sections 1-3 (threadpoolctl"
        + (", inside threadpool_limits(1)):" if PINNED else ", default threading):"),
        *(f"  - {line}" for line in env["blas"]),
        f"- PyTorch BLAS: {env['torch_blas']}",
        f"- workload: {cfg.n_samples:,} x {N_FEATURES} synthetic rows "
        f"(linear teacher), {N_CLASSES} classes, hidden_layer_sizes={cfg.hidden}, "
        f"batch_size={cfg.batch_size}, {cfg.epochs} epoch(s) per fit, shuffle, "
        f"{cfg.repeats} interleaved repeat(s); "
        f"accuracy on {cfg.test_size:,} held-out rows (chance: 0.10)",
        f"- learning_rate_init: sgd {LEARNING_RATES['sgd']} (momentum 0.9, "
        f"Nesterov), adam {LEARNING_RATES['adam']}; alpha={ALPHA}",
    ]
    return "\n".join(lines)


def render_fit_table(fit_records):
    header = [
        "contender",
        "solver",
        "dtype",
        "s/epoch median (min-max)",
        "x sklearn",
        "% of floor",
        "held-out acc.",
        "fit extra peak MiB",
        "note",
    ]
    rows = []
    for record in fit_records:
        c = record.contender
        sklearn_record = find_fit(fit_records, "sklearn", c.solver, record.dtype)
        floor_record = find_fit(fit_records, "floor", None, record.dtype)
        floor_median = floor_record.median if floor_record else None
        ratio = "-"
        if c.family != "floor" and sklearn_record is not None:
            ratio = fmt_ratio(record.median, sklearn_record.median)
        acc = "-" if record.accuracy is None else f"{record.accuracy:.3f}"
        memory = (
            "n/a" if c.family in ("torch", "floor") else fmt_mib(record.fit_peak_bytes)
        )
        rows.append(
            [
                c.label,
                c.solver or "-",
                record.dtype,
                fmt_seconds(record),
                ratio,
                fmt_percent(floor_median, record.median),
                acc,
                memory if record.seconds else "-",
                record_note(record),
            ]
        )
    return markdown_table(header, rows)


def render_predict_table(predict_records, cfg):
    header = [
        "model",
        "dtype",
        f"predict_proba rows/s ({cfg.predict_rows:,} rows)",
        "x sklearn",
        "% of floor",
        "extra peak MiB",
        "note",
    ]

    def speed_of(family, dtype):
        return next(
            (
                r.rows_per_second
                for r in predict_records
                if r.family == family and r.dtype == dtype
            ),
            None,
        )

    rows = []
    for record in predict_records:
        baseline = speed_of("sklearn", record.dtype)
        floor = speed_of("floor", record.dtype)
        speed = (
            "-" if record.rows_per_second is None else f"{record.rows_per_second:,.0f}"
        )
        note = f"failed: {record.error}" if record.error else ""
        if record.family == "torch":
            note = note or "PyTorch memory is invisible to tracemalloc"
        if record.family == "floor":
            note = note or f"forward products only, {PREDICT_FLOOR_CHUNK:,}-row chunks"
        rows.append(
            [
                "BLAS floor" if record.family == "floor" else record.family,
                record.dtype,
                speed,
                fmt_ratio(record.rows_per_second, baseline),
                fmt_percent(record.rows_per_second, floor),
                fmt_mib(record.peak_bytes),
                note,
            ]
        )
    return markdown_table(header, rows)


def render_scaling_table(points):
    header = [
        "sweep",
        "n_samples",
        "hidden",
        "repeats",
        "floor s/epoch",
        "sklearn sgd s/epoch",
        "skdrop sgd s/epoch",
        "skdrop x sklearn",
        "sklearn % of floor",
        "skdrop % of floor",
    ]
    rows = []
    for p in points:
        floor, skl, skd = (p.median.get(f) for f in ("floor", "sklearn", "skdrop"))
        rows.append(
            [
                p.sweep,
                f"{p.n_samples:,}",
                str(p.hidden),
                p.repeats,
                "-" if floor is None else f"{floor:.3f}",
                "-" if skl is None else f"{skl:.3f}",
                "-" if skd is None else f"{skd:.3f}",
                fmt_ratio(skd, skl),
                fmt_percent(floor, skl),
                fmt_percent(floor, skd),
            ]
        )
    return markdown_table(header, rows)


def target_row(description, value, text, ok):
    """One row of the targets table; ``value`` None means not measured."""
    if value is None:
        return [description, "-", "n/a (not measured)"]
    return [description, text, "reached" if ok else "missed"]


def fit_target_rows(fit_records, solver, dtype):
    skd = find_fit(fit_records, "skdrop", solver, dtype)
    skl = find_fit(fit_records, "sklearn", solver, dtype)
    floor = find_fit(fit_records, "floor", None, dtype)
    skd_t = skd.median if skd else None
    ratio = percent = None
    if skd_t and skl and skl.median:
        ratio = skd_t / skl.median
    if skd_t and floor and floor.median:
        percent = 100 * floor.median / skd_t
    goal = TARGET_FLOOR_PERCENT[solver]
    prefix = f"skdrop {solver} {dtype}:"
    return [
        target_row(
            f"{prefix} s/epoch ≤ {TARGET_FIT_RATIO:.2f}x sklearn {solver}",
            ratio,
            f"{ratio:.2f}x" if ratio else "",
            ratio is not None and ratio <= TARGET_FIT_RATIO,
        ),
        target_row(
            f"{prefix} ≥ {goal:.0f} % of BLAS floor",
            percent,
            f"{percent:.0f} %" if percent else "",
            percent is not None and percent >= goal,
        ),
    ]


def predict_target_rows(predict_records, dtype):
    by_family = {r.family: r for r in predict_records if r.dtype == dtype}
    skd, skl = by_family.get("skdrop"), by_family.get("sklearn")
    speedup = peak = None
    if skd and skl and skd.rows_per_second and skl.rows_per_second:
        speedup = skd.rows_per_second / skl.rows_per_second
    if skd and skd.peak_bytes is not None:
        peak = skd.peak_bytes / MIB
    prefix = f"skdrop predict_proba {dtype}:"
    return [
        target_row(
            f"{prefix} ≥ {TARGET_PREDICT_SPEEDUP}x sklearn rows/s",
            speedup,
            f"{speedup:.2f}x" if speedup else "",
            speedup is not None and speedup >= TARGET_PREDICT_SPEEDUP,
        ),
        target_row(
            f"{prefix} extra peak ≤ {TARGET_PREDICT_PEAK_MIB:.0f} MiB",
            peak,
            f"{peak:.1f} MiB" if peak is not None else "",
            peak is not None and peak <= TARGET_PREDICT_PEAK_MIB,
        ),
    ]


def group_target_rows(fit_records, solver, dtype):
    """Grouped masks against scikit-learn without dropout, same solver."""
    skl = find_fit(fit_records, "sklearn", solver, dtype)
    rows = []
    for size, goals in TARGET_GROUP_RATIO.items():
        grouped = find_fit(fit_records, "skdrop", solver, dtype, size)
        ratio = None
        if grouped and grouped.median and skl and skl.median:
            ratio = grouped.median / skl.median
        goal = goals[dtype]
        rows.append(
            target_row(
                f"skdrop {solver} {dtype}, {group_label(size)}: s/epoch "
                f"≤ {goal:.2f}x sklearn {solver}",
                ratio,
                f"{ratio:.2f}x" if ratio else "",
                ratio is not None and ratio <= goal,
            )
        )
    return rows


def mask_target_row(mask_shares, dtype):
    share = mask_shares.get(dtype)
    return target_row(
        f"skdrop sgd {dtype}: dropout masks (draw, apply, backward) "
        f"≤ {TARGET_MASK_PERCENT:.0f} % of fit time",
        share,
        f"{share:.1f} % (cProfile, CPU time)" if share is not None else "",
        share is not None and share <= TARGET_MASK_PERCENT,
    )


def evaluate_targets(fit_records, predict_records, mask_shares, dtypes):
    """(target, measured, verdict) rows computed from the measurements."""
    rows = []
    for solver in SOLVERS:
        for dtype in dtypes:
            rows += fit_target_rows(fit_records, solver, dtype)
            rows += group_target_rows(fit_records, solver, dtype)
    for dtype in dtypes:
        rows.append(mask_target_row(mask_shares, dtype))
    for dtype in dtypes:
        rows += predict_target_rows(predict_records, dtype)
    return rows


def render_report(env, cfg, fit_records, predict_records, mask_shares, scaling):
    parts = [
        render_header(env, cfg),
        "## 1. One epoch, every contender",
        "Seconds per epoch of `fit` (median and min-max over the repeats); "
        "x sklearn is the ratio to scikit-learn with the same solver and dtype "
        "(below 1 is faster); % of floor is BLAS-floor time / contender time. "
        "Fit extra peak memory comes from tracemalloc during the first repeat. "
        "Held-out accuracy is measured after the timed epochs: with dropout "
        "(skdrop, PyTorch) a network learns more slowly in its first epochs "
        "than scikit-learn's without, so the two dropout models should agree "
        "with each other rather than with scikit-learn.",
        render_fit_table(fit_records),
        "Prediction is independent of the solver, so it is measured once per "
        "library with the sgd-fitted model: one `predict_proba` call on "
        f"{cfg.predict_rows:,} fresh rows, with its extra peak memory "
        "(tracemalloc, output array included). The BLAS floor times the "
        "forward matrix products alone on the same rows (chunks of "
        f"{PREDICT_FLOOR_CHUNK:,}), which no prediction can beat by much; % of "
        "floor is a contender's rows/s over the floor's.",
        render_predict_table(predict_records, cfg),
    ]
    if scaling is not None:
        parts += [
            "## 2. How cost grows",
            f"float32, sgd, {cfg.scaling_repeats} repeat(s) per point (median), "
            f"batch_size={cfg.batch_size}. A point already measured (in section 1 "
            "or the other sweep) is reused; `repeats` says how many fits its "
            "median is over.",
            render_scaling_table(scaling),
        ]
    parts += [
        "## 3. Targets",
        "The mask share comes from one extra skdrop sgd fit per dtype run under "
        "cProfile with a CPU-time clock: the cumulative time of the `Noise` "
        "methods that draw masks and apply them (forward and backward) over "
        "the fit's.",
        markdown_table(
            ["target", "measured", "verdict"],
            evaluate_targets(fit_records, predict_records, mask_shares, cfg.dtypes),
        ),
    ]
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def main(argv=None):
    cfg = build_config(parse_args(argv))
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    if torch is not None:
        torch.set_num_threads(1)
        # Only allowed before torch's first parallel work; harmless to skip.
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
    started = time.perf_counter()
    threading = None
    if not cfg.no_threading:
        progress("section 0: default threading, pinned and busy, in subprocesses")
        threading = threads.threading_section(cfg.quick, progress=progress)
    with threadpool_limits(limits=1 if PINNED else None):
        env = describe_environment()
        fit_records, predict_records, mask_shares = benchmark_section1(cfg)
        scaling = benchmark_section2(cfg, fit_records) if cfg.scaling else None
    report = render_report(env, cfg, fit_records, predict_records, mask_shares, scaling)
    if threading is not None:
        title, rest = report.split("\n", 1)
        report = f"{title}\n\n## 0. As installed: default threading first\n\n"
        report += f"{threading}\n{rest}"
    elapsed = time.perf_counter() - started
    report += (
        f"\nTotal benchmark time: {elapsed:.0f} s; "
        f"load average at end: {load_average()}.\n"
    )
    print(report)
    cfg.output.parent.mkdir(parents=True, exist_ok=True)
    cfg.output.write_text(report, encoding="utf-8")
    progress(f"report written to {cfg.output}")


if __name__ == "__main__":
    main()
