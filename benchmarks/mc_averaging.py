"""Monte Carlo averaging against the single deterministic pass.

A dropout network can predict in two ways: one deterministic pass of the
whole network (``predict_proba``, what inverted dropout is built for), or the
average of ``n_samples`` stochastic passes with dropout on
(``predict_samples(X, n_samples).mean(axis=0)``, Monte Carlo dropout). This
script measures held-out accuracy and log loss of both as ``n_samples``
grows, for ``DropoutMLPClassifier`` with its defaults except a wide
``(512,)`` hidden layer, on the two small-training-set problems of
``benchmarks/generalisation.py`` (digits with 300 training rows, and a
4-class ``make_classification`` problem with 250).

Run from the repository root::

    python benchmarks/mc_averaging.py            # 5 seeds, about a minute
    python benchmarks/mc_averaging.py --quick    # 2 seeds

The markdown report is printed and written to
``benchmarks/results/mc_averaging.md``.
"""

import os

# One BLAS thread: 2 cores, and the comparison is about the predictions.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # benchmark the working tree

from skdrop import DropoutMLPClassifier  # noqa: E402

N_SAMPLES = (10, 30, 100)


def load_problem(name, seed):
    """Standardised (X_train, X_test, y_train, y_test), as in generalisation.py."""
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        train_size = 300
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
        train_size = 250
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=train_size, stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def run_seed(problem, seed):
    """Accuracy, log loss and prediction time of every way of predicting."""
    X_train, X_test, y_train, y_test = load_problem(problem, seed)
    clf = DropoutMLPClassifier((512,), random_state=seed).fit(X_train, y_train)
    ways = {"deterministic pass": lambda: clf.predict_proba(X_test)}
    for n in N_SAMPLES:
        ways[f"MC mean, n_samples={n}"] = lambda n=n: clf.predict_samples(
            X_test, n_samples=n, random_state=seed
        ).mean(axis=0)
    results = {}
    for name, predict in ways.items():
        start = time.perf_counter()
        proba = predict()
        elapsed = time.perf_counter() - start
        accuracy = accuracy_score(y_test, clf.classes_[proba.argmax(axis=1)])
        loss = log_loss(y_test, proba, labels=clf.classes_)
        results[name] = (accuracy, loss, elapsed * 1000)
    return results


def mean_std(values, digits=3):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def problem_table(problem, per_seed):
    reference = "deterministic pass"
    lines = [
        f"### {problem}",
        "",
        "| prediction | accuracy | log loss | log loss minus deterministic "
        "(paired) | time (ms) |",
        "|---|---|---|---|---|",
    ]
    for name in per_seed[0]:
        accuracy = [seed[name][0] for seed in per_seed]
        loss = [seed[name][1] for seed in per_seed]
        difference = [seed[name][1] - seed[reference][1] for seed in per_seed]
        elapsed = [seed[name][2] for seed in per_seed]
        lines.append(
            f"| {name} | {mean_std(accuracy)} | {mean_std(loss)} | "
            f"{mean_std(difference, 4)} | {np.mean(elapsed):.0f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds")
    parser.add_argument("--seeds", type=int, default=None)
    default_output = REPO_ROOT / "benchmarks" / "results" / "mc_averaging.md"
    parser.add_argument("--output", type=Path, default=default_output)
    args = parser.parse_args(argv)
    n_seeds = args.seeds or (2 if args.quick else 5)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    start = time.perf_counter()
    sections = []
    for problem in ("digits", "make_classification"):
        per_seed = []
        for seed in range(n_seeds):
            print(f"{problem}: seed {seed}", file=sys.stderr)
            per_seed.append(run_seed(problem, seed))
        sections.append(problem_table(problem, per_seed))
    header = [
        "## Monte Carlo averaging against the deterministic pass",
        "",
        f"DropoutMLPClassifier((512,)), defaults otherwise (dropout_rate=0.5); "
        f"{n_seeds} seeds, mean ± std over seeds; held-out rows.",
        "",
    ]
    footer = ["", f"Total time: {time.perf_counter() - start:.0f} s."]
    report = "\n".join([*header, "\n\n".join(sections), *footer]) + "\n"
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)


if __name__ == "__main__":
    main()
