"""Training beyond memory: dask-ml's Incremental around DropoutMLPClassifier.

The rows are generated block by block by Dask (standard normal features, the
labels of a fixed random two-layer teacher network), so the whole data set
never exists in memory: ``Incremental.partial_fit`` passes over the blocks
once per epoch, and the held-out rows are predicted block by block. The
same rows, computed into NumPy arrays, train the same estimator in memory
for the same number of epochs, as the reference accuracy.

Each mode runs in its own process and measures its peak resident memory
above the memory it held once the libraries were loaded and warmed up
(Linux: the peak is reset through /proc/self/clear_refs and read from
VmHWM). ``--mode incremental`` can also cap the process's address space
(``--cap-fraction``: RLIMIT_AS = current size + that fraction of the data),
so that materialising the data would fail outright.

    python benchmarks/incremental_memory.py                     # both modes
    python benchmarks/incremental_memory.py --rows 400000       # smaller
    python benchmarks/incremental_memory.py --mode incremental --json

Needs dask and dask-ml (``pip install -e ".[dask]"``). Linux only (the
memory figures come from /proc).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

# One BLAS thread, and Dask's synchronous scheduler below: the memory
# measured is that of one sequential pass, not of thread pools.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # benchmark the working tree

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skdrop import DropoutMLPClassifier  # noqa: E402

dask.config.set(scheduler="synchronous")
# Fixed epochs on purpose.
warnings.simplefilter("ignore", ConvergenceWarning)

N_FEATURES = 20
N_CLASSES = 3
# Every setting, spelled out: the same for both modes.
ESTIMATOR_SETTINGS = {
    "hidden_layer_sizes": (32,),
    "dropout_rate": 0.1,
    "learning_rate_init": 0.003,
    "batch_size": 200,
    "alpha": 1e-4,
    "random_state": 0,
}


def _teacher(X):
    """Labels of a fixed random network (3 classes), for any block of rows."""
    rng = np.random.default_rng(12345)
    hidden = rng.normal(size=(N_FEATURES, 16)) / np.sqrt(N_FEATURES)
    out = rng.normal(size=(16, N_CLASSES)) * 3
    return np.argmax(np.tanh(X @ hidden * 2) @ out, axis=1)


def lazy_data(rows, chunk_rows, seed):
    """Features and labels as Dask arrays, generated block by block."""
    X = da.random.default_rng(seed).standard_normal(
        size=(rows, N_FEATURES), chunks=(chunk_rows, N_FEATURES)
    )
    y = X.map_blocks(_teacher, drop_axis=1, dtype=np.int64)
    return X, y


def _status(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak():
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return _status("VmRSS")


def _estimator(epochs):
    return DropoutMLPClassifier(
        **ESTIMATOR_SETTINGS, max_iter=epochs, n_iter_no_change=epochs + 1
    )


def run_incremental(rows, chunk_rows, epochs, cap_fraction, test_rows):
    from dask_ml.wrappers import Incremental

    X, y = lazy_data(rows, chunk_rows, seed=0)
    X_test, y_test = lazy_data(test_rows, chunk_rows, seed=1)
    data_bytes = X.nbytes + y.nbytes
    # Warm up every code path on a small array, then measure from here.
    X_small, y_small = lazy_data(4 * 1000, 1000, seed=2)
    warm = Incremental(_estimator(1), random_state=0)
    warm.partial_fit(X_small, y_small, classes=np.arange(N_CLASSES))
    (warm.predict(X_small) == y_small).mean().compute()
    del warm
    start_rss = _reset_peak()
    if cap_fraction:
        limit = _status("VmSize") + int(cap_fraction * data_bytes)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    model = Incremental(_estimator(epochs), random_state=0)
    began = time.perf_counter()
    for _ in range(epochs):
        model.partial_fit(X, y, classes=np.arange(N_CLASSES))
    fit_seconds = time.perf_counter() - began
    accuracy = float((model.predict(X_test) == y_test).mean().compute())
    peak_extra = _status("VmHWM") - start_rss
    # With the cap, the data cannot be materialised in this process.
    try:
        X.compute()
        materialised = True
    except MemoryError:
        materialised = False
    return {
        "mode": "incremental",
        "accuracy": accuracy,
        "fit_seconds": fit_seconds,
        "peak_extra_bytes": peak_extra,
        "data_bytes": int(data_bytes),
        "address_space_cap_bytes": int(cap_fraction * data_bytes),
        "materialising_X_succeeds": materialised,
        "samples_seen": int(model.estimator_.t_),
    }


def run_in_memory(rows, chunk_rows, epochs, test_rows):
    X_lazy, y_lazy = lazy_data(rows, chunk_rows, seed=0)
    X_test, y_test = (a.compute() for a in lazy_data(test_rows, chunk_rows, seed=1))
    _estimator(1).fit(X_test[:1000], y_test[:1000])  # warm up
    start_rss = _reset_peak()
    X, y = X_lazy.compute(), y_lazy.compute()
    model = _estimator(epochs)
    began = time.perf_counter()
    model.fit(X, y)
    fit_seconds = time.perf_counter() - began
    return {
        "mode": "in-memory",
        "accuracy": float(model.score(X_test, y_test)),
        "fit_seconds": fit_seconds,
        "peak_extra_bytes": _status("VmHWM") - start_rss,
        "data_bytes": int(X.nbytes + y.nbytes),
        "samples_seen": int(model.t_),
    }


def _run_mode_in_subprocess(mode, args):
    command = [
        sys.executable,
        __file__,
        "--mode",
        mode,
        "--json",
        "--rows",
        str(args.rows),
        "--chunk-rows",
        str(args.chunk_rows),
        "--epochs",
        str(args.epochs),
        "--cap-fraction",
        str(args.cap_fraction),
        "--test-rows",
        str(args.test_rows),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _report(results, args):
    mib = 2**20
    incremental, in_memory = results["incremental"], results["in-memory"]
    lines = [
        "## dask-ml Incremental: training beyond memory",
        "",
        f"{args.rows:,} rows x {N_FEATURES} float64 features and int64 labels "
        f"({incremental['data_bytes'] / mib:,.0f} MiB), generated block by "
        f"block by Dask (blocks of {args.chunk_rows:,} rows; labels of a fixed "
        f"random teacher network, {N_CLASSES} classes); {args.test_rows:,} held-out "
        f"rows. `DropoutMLPClassifier({_settings()}, max_iter={args.epochs})`; "
        f"{args.epochs} epochs either way. Each mode in its own process, one "
        "BLAS thread, Dask's synchronous scheduler. Peak memory: the peak "
        "resident set above what the process held after loading and warming "
        "up the libraries (VmHWM after a reset).",
        "",
        "| mode | held-out accuracy | peak extra memory | of the data's size "
        "| fit time |",
        "|---|---|---|---|---|",
    ]
    for name, result, how in (
        (
            "`Incremental(...).partial_fit` x epochs, blockwise predict",
            incremental,
            "",
        ),
        ("in memory: `fit` on the computed arrays", in_memory, ""),
    ):
        lines.append(
            f"| {name}{how} | {result['accuracy']:.4f} | "
            f"{result['peak_extra_bytes'] / mib:,.1f} MiB | "
            f"{result['peak_extra_bytes'] / result['data_bytes']:.1%} | "
            f"{result['fit_seconds']:.1f} s |"
        )
    cap = incremental["address_space_cap_bytes"]
    lines += [
        "",
        (
            f"The incremental run had its address space capped (RLIMIT_AS) at "
            f"{cap / mib:,.0f} MiB above its size after warming up "
            f"({args.cap_fraction:.0%} of the data's size): computing X into "
            "memory in that process "
            + (
                "succeeded (the cap did not bind)."
                if incremental["materialising_X_succeeds"]
                else "failed with MemoryError, as it should."
            )
            if cap
            else "No address-space cap in this run."
        ),
    ]
    return "\n".join(lines) + "\n"


def _settings():
    return ", ".join(f"{k}={v!r}" for k, v in ESTIMATOR_SETTINGS.items())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--mode", choices=["both", "incremental", "in-memory"], default="both"
    )
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--cap-fraction",
        type=float,
        default=0.25,
        help="incremental mode: cap the address space at this fraction of the "
        "data's size above the warmed-up process (0: no cap)",
    )
    parser.add_argument("--test-rows", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="one JSON line")
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO_ROOT / "benchmarks" / "results" / "incremental_memory.md",
    )
    args = parser.parse_args(argv)
    if args.mode == "incremental":
        result = run_incremental(
            args.rows, args.chunk_rows, args.epochs, args.cap_fraction, args.test_rows
        )
    elif args.mode == "in-memory":
        result = run_in_memory(args.rows, args.chunk_rows, args.epochs, args.test_rows)
    else:
        results = {
            mode: _run_mode_in_subprocess(mode, args)
            for mode in ("incremental", "in-memory")
        }
        report = _report(results, args)
        print(report)
        args.output.write_text(report)
        return 0
    print(json.dumps(result) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
