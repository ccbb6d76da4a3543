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

# _common comes first: it sets the BLAS thread count, read when numpy loads.
from _common import (
    CLASSIFICATION_PROBLEMS,
    load_classification_problem,
    mean_std,
    parse_benchmark_args,
    publish_report,
    run_over_seeds,
)

# isort: split
import time
import warnings
from functools import partial

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss

from skdrop import DropoutMLPClassifier

TITLE = "## Monte Carlo averaging against the deterministic pass"
N_SAMPLES = (10, 30, 100)


def run_seed(problem, seed):
    """Accuracy, log loss and prediction time of every way of predicting."""
    X_train, X_test, y_train, y_test = load_classification_problem(problem, seed)
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
    args = parse_benchmark_args(__doc__, "mc_averaging", "2 seeds", argv)
    n_seeds = args.seeds
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    start = time.perf_counter()
    sections = []
    for problem in CLASSIFICATION_PROBLEMS:
        per_seed = run_over_seeds(problem, n_seeds, partial(run_seed, problem))
        sections.append(problem_table(problem, per_seed))
    summary = (
        f"DropoutMLPClassifier((512,)), defaults otherwise (dropout_rate=0.5); "
        f"{n_seeds} seeds, mean ± std over seeds; held-out rows."
    )
    publish_report(TITLE, summary, sections, start, args.output)


if __name__ == "__main__":
    main()
