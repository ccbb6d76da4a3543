"""Does dropout generalise better than scikit-learn's L2-regularised MLP?

A wide network (one hidden layer of 512 ReLU units) is trained on a training
set small enough to overfit, and scored on held-out data:

* ``digits``: 300 of scikit-learn's 8x8 digit images (64 features, 10
  classes), the other 1497 held out;
* ``make_classification``: 250 rows of a 40-feature, 4-class problem with
  10 informative features and 5 % flipped labels, 2000 rows held out.

Contenders, all with the same network, solver (Adam) and ``max_iter``:

* ``MLPClassifier`` with its default ``alpha=1e-4``, and with the best
  ``alpha`` of a small grid;
* ``DropoutMLPClassifier`` with its default ``dropout_rate=0.5``, and with
  the best ``dropout_rate`` of a small grid.

"Best" is chosen on a validation split (25 % of the training rows, by log
loss) and the winner is refitted on all the training rows: the test rows never
take part in the choice. Every number is the mean +- standard deviation over
seeds; each seed draws a new split and new initial weights. The "difference"
columns are paired (same seed, same split): dropout minus MLPClassifier.

Run from the repository root::

    python benchmarks/generalisation.py            # 5 seeds, a few minutes
    python benchmarks/generalisation.py --quick    # 2 seeds, smaller grids

The markdown report is printed and written to
``benchmarks/results/generalisation.md``.
"""

# _common comes first: it sets the BLAS thread count, read when numpy loads.
from _common import (
    CLASSIFICATION_PROBLEMS,
    TRAIN_ROWS,
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
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from skdrop import DropoutMLPClassifier

TITLE = "## Generalisation: dropout against L2 on a wide network"
HIDDEN = (512,)
MAX_ITER = 200
ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
RATES = (0.0, 0.2, 0.5, 0.7, 0.8, 0.9)
QUICK_ALPHAS = (1e-4, 1e-2, 1.0)
QUICK_RATES = (0.2, 0.5, 0.8)


def make_mlp(alpha, seed):
    return MLPClassifier(HIDDEN, alpha=alpha, max_iter=MAX_ITER, random_state=seed)


def make_dropout(rate, seed):
    return DropoutMLPClassifier(
        HIDDEN, dropout_rate=rate, max_iter=MAX_ITER, random_state=seed
    )


def choose(make, grid, X, y, seed):
    """The grid value with the lowest validation log loss (25 % split)."""
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed + 1000
    )
    losses = [
        log_loss(y_val, make(value, seed).fit(X_fit, y_fit).predict_proba(X_val))
        for value in grid
    ]
    return grid[int(np.argmin(losses))]


def evaluate(model, X_test, y_test):
    proba = model.predict_proba(X_test)
    accuracy = accuracy_score(y_test, model.classes_[proba.argmax(axis=1)])
    return accuracy, log_loss(y_test, proba, labels=model.classes_)


def run_seed(problem, seed, alphas, rates):
    """Scores of the four contenders, and the chosen alpha and rate."""
    X_train, X_test, y_train, y_test = load_classification_problem(problem, seed)
    best_alpha = choose(make_mlp, alphas, X_train, y_train, seed)
    best_rate = choose(make_dropout, rates, X_train, y_train, seed)
    models = {
        "MLPClassifier (alpha=1e-4)": make_mlp(1e-4, seed),
        "MLPClassifier (best alpha)": make_mlp(best_alpha, seed),
        "DropoutMLPClassifier (rate=0.5)": make_dropout(0.5, seed),
        "DropoutMLPClassifier (best rate)": make_dropout(best_rate, seed),
    }
    scores = {
        name: evaluate(model.fit(X_train, y_train), X_test, y_test)
        for name, model in models.items()
    }
    return scores, best_alpha, best_rate


def problem_table(problem, results):
    """Markdown table of one problem's results over seeds."""
    names = list(results[0][0])
    lines = [
        f"### {problem}",
        "",
        "| model | accuracy | log loss |",
        "|---|---|---|",
    ]
    for name in names:
        accuracy = [r[0][name][0] for r in results]
        loss = [r[0][name][1] for r in results]
        lines.append(f"| {name} | {mean_std(accuracy)} | {mean_std(loss)} |")
    lines += ["", "Paired differences, dropout minus MLPClassifier:", ""]
    lines += ["| comparison | accuracy | log loss |", "|---|---|---|"]
    pairs = [
        ("defaults", names[2], names[0]),
        ("each with its best setting", names[3], names[1]),
        ("best dropout vs MLP default", names[3], names[0]),
    ]
    for label, drop, mlp in pairs:
        acc = [r[0][drop][0] - r[0][mlp][0] for r in results]
        loss = [r[0][drop][1] - r[0][mlp][1] for r in results]
        lines.append(f"| {label} | {mean_std(acc, 4)} | {mean_std(loss, 4)} |")
    alphas = ", ".join(f"{r[1]:g}" for r in results)
    rates = ", ".join(f"{r[2]:g}" for r in results)
    lines += ["", f"Chosen alpha per seed: {alphas}. Chosen rate per seed: {rates}."]
    return "\n".join(lines)


def main(argv=None):
    args = parse_benchmark_args(__doc__, "generalisation", "2 seeds, small grids", argv)
    n_seeds = args.seeds
    alphas = QUICK_ALPHAS if args.quick else ALPHAS
    rates = QUICK_RATES if args.quick else RATES
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    start = time.perf_counter()
    sections = []
    for problem in CLASSIFICATION_PROBLEMS:
        run = partial(run_seed, problem, alphas=alphas, rates=rates)
        results = run_over_seeds(problem, n_seeds, run)
        sections.append(problem_table(problem, results))
    summary = (
        f"Network {HIDDEN}, Adam, max_iter={MAX_ITER}; {n_seeds} seeds, mean ± std. "
        f"alpha grid {list(alphas)}, dropout_rate grid {list(rates)}, each "
        "chosen by log loss on a 25 % validation split of the training rows, "
        "then refitted on all of them. Training rows: "
        f"{TRAIN_ROWS['digits']} (digits), "
        f"{TRAIN_ROWS['make_classification']} (make_classification)."
    )
    publish_report(TITLE, summary, sections, start, args.output)


if __name__ == "__main__":
    main()
