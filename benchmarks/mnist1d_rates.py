"""Learned rates against a grid of fixed rates on MNIST-1D.

MNIST-1D (``pip install -e ".[bench]"``; generated offline with the package's
fixed seed: 4,000 training and 1,000 test sequences of 40 values, 10 classes)
with a (256, 256) ``DropoutMLPClassifier``, inputs standardised. For each
seed: a 3-fold ``GridSearchCV`` over ``dropout_rate`` in {0.1, 0.3, 0.5}
(refitted on all training rows) against one fit with ``dropout_rate='auto'``,
both scored on the test rows. Every fit has the same ``max_iter`` (default
200 epochs, ``--max-iter``), so both spend the same epochs per network.

Target (issue "dropout that works without tuning"): 'auto' within one point
of the grid's test accuracy. Results: ``benchmarks/results/mnist1d_rates.md``.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from skdrop import DropoutMLPClassifier

RESULTS = Path(__file__).resolve().parent / "results" / "mnist1d_rates.md"
GRID = [0.1, 0.3, 0.5]


def load():
    from mnist1d.data import get_dataset_args, make_dataset

    data = make_dataset(get_dataset_args())
    scaler = StandardScaler().fit(data["x"])
    return (
        scaler.transform(data["x"]),
        scaler.transform(data["x_test"]),
        data["y"],
        data["y_test"],
    )


def run_seed(seed, max_iter, data):
    X, X_test, y, y_test = data
    network = DropoutMLPClassifier(
        hidden_layer_sizes=(256, 256), max_iter=max_iter, random_state=seed
    )
    start = time.perf_counter()
    search = GridSearchCV(network, {"dropout_rate": GRID}, cv=3).fit(X, y)
    grid_seconds = time.perf_counter() - start
    start = time.perf_counter()
    auto = DropoutMLPClassifier(
        hidden_layer_sizes=(256, 256),
        dropout_rate="auto",
        max_iter=max_iter,
        random_state=seed,
    ).fit(X, y)
    auto_seconds = time.perf_counter() - start
    return {
        "grid": search.score(X_test, y_test),
        "chosen": search.best_params_["dropout_rate"],
        "auto": auto.score(X_test, y_test),
        "rates": auto.dropout_rates_.round(3).tolist(),
        "epochs": auto.n_iter_,
        "seconds": (grid_seconds, auto_seconds),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args(argv)
    try:
        data = load()
    except ImportError:
        print("mnist1d is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 0
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    for seed in range(args.seeds):
        print(f"seed {seed}", file=sys.stderr)
        rows.append(run_seed(seed, args.max_iter, data))
    grid = np.array([r["grid"] for r in rows])
    auto = np.array([r["auto"] for r in rows])
    blas = [
        (p["internal_api"], p.get("version"), p["num_threads"])
        for p in threadpool_info()
        if p["user_api"] == "blas"
    ]
    lines = [
        "# MNIST-1D: learned rates against a grid of fixed rates",
        "",
        "Written by `python benchmarks/mnist1d_rates.py`: (256, 256) "
        f"DropoutMLPClassifier, max_iter={args.max_iter}, {args.seeds} seeds; "
        "3-fold GridSearchCV over dropout_rate in {0.1, 0.3, 0.5} (refitted) "
        "against one fit with dropout_rate='auto'; test accuracy on the 1,000 "
        f"test rows. BLAS: {blas} (default threading).",
        "",
        "| seed | grid: chosen rate | grid: accuracy | 'auto': learned rates "
        "| 'auto': epochs | 'auto': accuracy | seconds (grid, 'auto') |",
        "|---|---|---|---|---|---|---|",
    ]
    for seed, r in enumerate(rows):
        lines.append(
            f"| {seed} | {r['chosen']} | {r['grid']:.3f} | {r['rates']} | "
            f"{r['epochs']} | {r['auto']:.3f} | "
            f"{r['seconds'][0]:.0f}, {r['seconds'][1]:.0f} |"
        )
    lines += [
        "",
        f"Mean: grid {grid.mean():.3f}, 'auto' {auto.mean():.3f}; "
        f"difference {100 * (auto.mean() - grid.mean()):+.1f} points "
        "(target: within one point).",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    Path(args.output).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
