"""Command line: ``python -m skdrop compare [--dataset NAME]``.

Fits scikit-learn's MLP and skdrop's dropout MLP (a grid search over
``dropout_rate``) on a dataset bundled with scikit-learn and prints a table
of held-out scores and fit times. Nothing is downloaded.
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn import datasets
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from . import DropoutMLPClassifier, DropoutMLPRegressor

CLASSIFICATION = {
    "digits": datasets.load_digits,
    "breast_cancer": datasets.load_breast_cancer,
    "wine": datasets.load_wine,
    "iris": datasets.load_iris,
}
REGRESSION = {"diabetes": datasets.load_diabetes}
DROPOUT_GRID = (0.0, 0.1, 0.2, 0.3, 0.5)


def _parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m skdrop", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser(
        "compare", help="compare scikit-learn's MLP with skdrop's dropout MLP"
    )
    compare.add_argument(
        "--dataset",
        choices=sorted(CLASSIFICATION) + sorted(REGRESSION),
        default="digits",
        help="bundled scikit-learn dataset (default: digits)",
    )
    compare.add_argument("--hidden", type=int, default=256, help="hidden units")
    compare.add_argument("--max-iter", type=int, default=200, help="epochs")
    compare.add_argument("--seed", type=int, default=0, help="random seed")
    compare.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also draw held-out score against dropout_rate (needs matplotlib)",
    )
    return parser.parse_args(argv)


def _model(estimator_class, args, **params):
    estimator = estimator_class(
        hidden_layer_sizes=(args.hidden,),
        max_iter=args.max_iter,
        random_state=args.seed,
        **params,
    )
    return make_pipeline(StandardScaler(), estimator)


def _timed_fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def _final_model(model):
    """The estimator a search refitted, or the model itself."""
    return model.best_estimator_ if isinstance(model, GridSearchCV) else model


def _single_fit_seconds(model, total):
    """Seconds of one fit of the final model (a search's refit alone)."""
    return model.refit_time_ if isinstance(model, GridSearchCV) else total


def _classification_rows(args, X_train, X_test, y_train, y_test):
    baseline = _model(MLPClassifier, args)
    search = GridSearchCV(
        _model(DropoutMLPClassifier, args),
        {"dropoutmlpclassifier__dropout_rate": list(DROPOUT_GRID)},
        cv=3,
        scoring="neg_log_loss",
    )
    rows = []
    for name, model in [("sklearn MLPClassifier", baseline), ("skdrop (CV)", search)]:
        total = _timed_fit(model, X_train, y_train)
        final = _final_model(model)
        rows.append(
            {
                "model": name,
                "accuracy": accuracy_score(y_test, final.predict(X_test)),
                "log loss": log_loss(y_test, final.predict_proba(X_test)),
                "fit s": _single_fit_seconds(model, total),
                "search s": total,
                "dropout_rate": _chosen_rate(model),
            }
        )
    return rows, search


def _regression_rows(args, X_train, X_test, y_train, y_test):
    baseline = _scaled_target(_model(MLPRegressor, args))
    search = GridSearchCV(
        _scaled_target(_model(DropoutMLPRegressor, args)),
        {"regressor__dropoutmlpregressor__dropout_rate": list(DROPOUT_GRID)},
        cv=3,
    )
    rows = []
    for name, model in [("sklearn MLPRegressor", baseline), ("skdrop (CV)", search)]:
        total = _timed_fit(model, X_train, y_train)
        prediction = _final_model(model).predict(X_test)
        rows.append(
            {
                "model": name,
                "R2": r2_score(y_test, prediction),
                "RMSE": mean_squared_error(y_test, prediction) ** 0.5,
                "fit s": _single_fit_seconds(model, total),
                "search s": total,
                "dropout_rate": _chosen_rate(model),
            }
        )
    return rows, search


def _scaled_target(model):
    """Standardise the target too: MLPs train badly on targets in the hundreds."""
    return TransformedTargetRegressor(model, transformer=StandardScaler())


def _chosen_rate(model):
    if not isinstance(model, GridSearchCV):
        return "-"
    (rate,) = model.best_params_.values()
    return f"{rate:g}"


def _format_table(rows):
    columns = list(rows[0])
    cells = [[_format_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [
        "| "
        + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
        + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in cells:
        padded = (v.ljust(w) for v, w in zip(row, widths, strict=True))
        lines.append("| " + " | ".join(padded) + " |")
    return "\n".join(lines)


def _format_cell(value):
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _plot(search, baseline_score, is_classifier, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = search.cv_results_
    (key,) = search.param_grid
    rates = np.asarray(results[f"param_{key}"], dtype=float)
    mean, std = results["mean_test_score"], results["std_test_score"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(rates, mean, yerr=std, marker="o", capsize=3, label="skdrop (CV)")
    ax.axhline(baseline_score, color="k", linestyle="--", label="scikit-learn MLP (CV)")
    ax.set_xlabel("dropout_rate")
    ax.set_ylabel("negative log loss" if is_classifier else "R²")
    ax.set_title("Cross-validated score against dropout rate")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def compare(args):
    """Run the comparison and print its table."""
    is_classifier = args.dataset in CLASSIFICATION
    loader = CLASSIFICATION.get(args.dataset) or REGRESSION[args.dataset]
    X, y = loader(return_X_y=True)
    split = train_test_split(
        X,
        y,
        test_size=0.25,
        random_state=args.seed,
        stratify=y if is_classifier else None,
    )
    print(
        f"dataset: {args.dataset} ({X.shape[0]} rows, {X.shape[1]} features), "
        f"hidden layer: {args.hidden} units, max_iter: {args.max_iter}, "
        f"held-out: 25 %"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        make_rows = _classification_rows if is_classifier else _regression_rows
        rows, search = make_rows(args, *split)
    print(_format_table(rows))
    if args.plot:
        if is_classifier:
            baseline = _model(MLPClassifier, args)
        else:
            baseline = _scaled_target(_model(MLPRegressor, args))
        scoring = "neg_log_loss" if is_classifier else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            baseline_cv = GridSearchCV(baseline, {}, cv=3, scoring=scoring)
            baseline_cv.fit(split[0], split[2])
        _plot(search, baseline_cv.best_score_, is_classifier, args.plot)
        print(f"figure written to {args.plot}")


def main(argv=None):
    """Entry point of ``python -m skdrop``."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "compare":
        compare(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
