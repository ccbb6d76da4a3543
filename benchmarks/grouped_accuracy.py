"""Do grouped dropout masks train models as accurate as per-row masks?

``dropout_group_size`` makes the rows of a mini-batch share dropout masks
(in groups of that many rows, or one per batch) so that a training step
computes with the kept units' weights only. This benchmark measures what
that costs in accuracy, on three problems, with a wide network (two hidden
layers of 512 ReLU units, dropout 0.5 on both, mini-batches of 256 rows):

* ``mnist1d``: the MNIST-1D data set (4,000 training and 1,000 test
  sequences of 40 values, 10 classes), generated offline by the ``mnist1d``
  package with its default arguments; SGD, learning rate 0.05, momentum 0.9
  (the issue's prototype settings); test accuracy;
* ``digits``: scikit-learn's 8x8 digits, 75 % / 25 % stratified split per
  seed; SGD as above; test accuracy;
* ``friedman1``: ``make_friedman1`` regression (10 features, noise 1.0),
  2,000 training and 1,000 test rows, standardised targets; Adam, learning
  rate 0.001, dropout 0.2; test R^2.

Contenders: one mask per row (``dropout_group_size=None``, the default),
groups of 128 rows, and one mask per mini-batch (``'batch'``). Each is
trained for the same number of epochs ("equal epochs"); the grouped ones are
also trained for as many epochs as fit in the time per-row masks took on the
same seed ("equal time": epochs scaled by the CPU-time ratio of the
equal-epoch runs). Every run goes the full number of epochs (no early
stopping, no tolerance stop). Figures are mean +- standard deviation over
seeds; each seed draws new initial weights, masks and (for digits and
friedman1) a new split. Times are process CPU time with one BLAS thread, in
float32.

Run from the repository root::

    python benchmarks/grouped_accuracy.py            # 3 seeds, about 6 min
    python benchmarks/grouped_accuracy.py --quick    # 2 seeds, fewer epochs

The markdown report is printed and written to
``benchmarks/results/grouped_accuracy.md``.
"""

# _common comes first: it sets the BLAS thread count, read when numpy loads.
from _common import RESULTS_DIR, mean_std, publish_report, run_over_seeds

# isort: split
import argparse
import functools
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor

TITLE = "## Grouped dropout masks: accuracy against per-row masks"
HIDDEN = (512, 512)
BATCH = 256
GROUPINGS = {"one mask per row": None, "groups of 128": 128, "one per batch": "batch"}
# name -> estimator class, its settings, epochs (full run, --quick)
PROBLEMS = {
    "mnist1d": (
        DropoutMLPClassifier,
        {"solver": "sgd", "learning_rate_init": 0.05, "momentum": 0.9},
        (150, 40),
    ),
    "digits": (
        DropoutMLPClassifier,
        {"solver": "sgd", "learning_rate_init": 0.05, "momentum": 0.9},
        (100, 30),
    ),
    "friedman1": (
        DropoutMLPRegressor,
        {"solver": "adam", "learning_rate_init": 0.001, "dropout_rate": 0.2},
        (100, 30),
    ),
}


def load_problem(name, seed):
    """Standardised float32 (X_train, X_test, y_train, y_test)."""
    if name == "mnist1d":
        from mnist1d.data import get_dataset_args, make_dataset

        data = make_dataset(get_dataset_args())  # fixed seed of the package
        X, X_test, y, y_test = data["x"], data["x_test"], data["y"], data["y_test"]
    elif name == "digits":
        X_all, y_all = load_digits(return_X_y=True)
        X, X_test, y, y_test = train_test_split(
            X_all, y_all, test_size=0.25, stratify=y_all, random_state=seed
        )
    else:
        X_all, y_all = make_friedman1(n_samples=3000, noise=1.0, random_state=seed)
        X, X_test, y, y_test = train_test_split(
            X_all, y_all, test_size=1000, random_state=seed
        )
        y_mean, y_std = y.mean(), y.std()
        y, y_test = (y - y_mean) / y_std, (y_test - y_mean) / y_std
    scaler = StandardScaler().fit(X)
    return (
        scaler.transform(X).astype(np.float32),
        scaler.transform(X_test).astype(np.float32),
        y,
        y_test,
    )


def fit_and_score(name, group_size, epochs, seed, data):
    """Test score and CPU seconds of one fit for ``epochs`` epochs."""
    cls, settings, _ = PROBLEMS[name]
    X, X_test, y, y_test = data
    model = cls(
        hidden_layer_sizes=HIDDEN,
        batch_size=BATCH,
        max_iter=epochs,
        n_iter_no_change=epochs + 1,  # run every epoch
        dropout_group_size=group_size,
        random_state=seed,
        **{"dropout_rate": 0.5, **settings},
    )
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    seconds = time.process_time() - start
    return model.score(X_test, y_test), seconds


def run_seed(name, epochs, seed):
    """Scores and times of every contender, at equal epochs and equal time."""
    data = load_problem(name, seed)
    results = {}
    row_score, row_time = fit_and_score(name, None, epochs, seed, data)
    results["one mask per row"] = {"epochs": (row_score, row_time, epochs)}
    for label, group_size in GROUPINGS.items():
        if group_size is None:
            continue
        score, seconds = fit_and_score(name, group_size, epochs, seed, data)
        equal_time_epochs = max(1, round(epochs * row_time / seconds))
        score_t, seconds_t = fit_and_score(
            name, group_size, equal_time_epochs, seed, data
        )
        results[label] = {
            "epochs": (score, seconds, epochs),
            "time": (score_t, seconds_t, equal_time_epochs),
        }
    return results


def problem_table(name, per_seed):
    metric = "test R^2" if name == "friedman1" else "test accuracy"
    lines = [
        f"### {name}",
        "",
        f"| masks | {metric}, equal epochs | CPU s | {metric}, equal time "
        "| epochs at equal time | CPU s |",
        "|---|---|---|---|---|---|",
    ]
    for label in GROUPINGS:
        runs = [seed[label] for seed in per_seed]
        equal = [run["epochs"] for run in runs]
        cells = [
            label,
            mean_std([r[0] for r in equal]),
            f"{np.mean([r[1] for r in equal]):.1f}",
        ]
        if "time" in runs[0]:
            timed = [run["time"] for run in runs]
            cells += [
                mean_std([r[0] for r in timed]),
                f"{np.mean([r[2] for r in timed]):.0f}",
                f"{np.mean([r[1] for r in timed]):.1f}",
            ]
        else:
            cells += ["(reference)", f"{equal[0][2]}", cells[2]]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(verdict(per_seed))
    return "\n".join(lines)


def verdict(per_seed):
    """Whether each grouping is within one standard deviation of per-row
    masks at equal epochs (the issue's accuracy criterion)."""
    row = np.array([seed["one mask per row"]["epochs"][0] for seed in per_seed])
    parts = []
    for label in list(GROUPINGS)[1:]:
        scores = np.array([seed[label]["epochs"][0] for seed in per_seed])
        gap = scores.mean() - row.mean()
        within = abs(gap) <= row.std()
        parts.append(
            f"{label}: {gap:+.3f} against per-row masks "
            f"({'within' if within else 'outside'} one std of per-row, {row.std():.3f})"
        )
    return "Equal epochs: " + "; ".join(parts) + "."


def environment():
    blas = "; ".join(
        f"{info.get('internal_api')} {info.get('version')} "
        f"({info.get('num_threads')} threads)"
        for info in threadpool_info()
    )
    return (
        f"Python {platform.python_version()}, numpy {np.__version__}, {blas}. "
        "The machine (2 cores) was shared with other work during the run: CPU "
        "times are noisy, so the equal-time epoch counts are approximate."
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, fewer epochs")
    parser.add_argument("--seeds", type=int, default=None, help="default 3")
    parser.add_argument(
        "--output", type=Path, default=RESULTS_DIR / "grouped_accuracy.md"
    )
    args = parser.parse_args(argv)
    args.seeds = args.seeds or (2 if args.quick else 3)
    return args


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    sections = []
    for name, (_, _, (epochs, quick_epochs)) in PROBLEMS.items():
        n_epochs = quick_epochs if args.quick else epochs
        per_seed = run_over_seeds(
            name, args.seeds, functools.partial(run_seed, name, n_epochs)
        )
        sections.append(problem_table(name, per_seed))
    summary = (
        f"Hidden layers {HIDDEN}, ReLU, batch {BATCH}, float32, "
        f"{args.seeds} seeds (mean ± std). "
        "Equal time: the grouped contenders get as many epochs as fit in the "
        "CPU time of per-row masks on the same seed. " + environment()
    )
    publish_report(TITLE, summary, sections, start, args.output)


if __name__ == "__main__":
    main()
