"""UCI regression benchmark: skdrop as a user runs it against scikit-learn's MLP.

The standard benchmark for predictive uncertainty in regression: the UCI
data sets with the 20 fixed train/test splits of Hernández-Lobato & Adams
(2015), used by Gal & Ghahramani's MC-dropout paper. The data are not
shipped with skdrop; they are read from ``../shared/uci/*.npz`` next to the
repository (or ``--data-dir``), one file per data set with the keys ``X``,
``y``, ``train`` and ``test``.

Protocol, for every split: X standardised by a ``StandardScaler`` in a
``Pipeline`` fitted on the training rows, y standardised by the training
rows' mean and standard deviation (predictions mapped back to the target's
units), each model at its defaults. Reported per data set, mean ± standard
error over the splits:

* test RMSE, in the target's units;
* test log-likelihood per row of the Gaussian predictive distribution that
  ``predict(X, return_std=True)`` gives (Monte Carlo mean, standard
  deviation sqrt(MC variance + noise_variance_)), in the target's units;
* the share of test rows inside the 95 % interval mean ± 1.96 std;
* the learned rates (``dropout_rate='auto'``) and the fit time.

scikit-learn's ``MLPRegressor`` has no predictive distribution: only its
RMSE is reported. The published figures are those of the data's README.

Usage::

    python benchmarks/uci.py                     # the five data sets, 20 splits
    python benchmarks/uci.py --splits 5 --datasets yacht energy
    python benchmarks/uci.py --plot docs/_static/uci_loglik.png
"""

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

from skdrop import DropoutMLPRegressor

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPOSITORY.parent / "shared" / "uci"
RESULTS = REPOSITORY / "benchmarks" / "results" / "uci.md"

# name -> (file stem, label, published MC dropout RMSE, its SE, MC dropout LL,
# its SE, deep ensemble LL); from the data's README (Gal's repository,
# "grid search"; Lakshminarayanan et al. 2017).
DATASETS = {
    "boston": ("bostonHousing", "Boston", 2.90, 0.18, -2.40, 0.04, -2.41),
    "concrete": ("concrete", "Concrete", 4.82, 0.16, -2.93, 0.02, -3.06),
    "energy": ("energy", "Energy", 0.54, 0.06, -1.21, 0.01, -1.38),
    "wine": ("wine-quality-red", "Wine (red)", 0.62, 0.01, -0.93, 0.01, -0.94),
    "yacht": ("yacht", "Yacht", 0.67, 0.05, -1.25, 0.01, -1.18),
}

# label -> estimator factory; every model at its defaults but for the seed
# and, for the second skdrop model, the learned rates.
MODELS = {
    "scikit-learn MLPRegressor()": lambda seed: MLPRegressor(random_state=seed),
    "skdrop DropoutMLPRegressor()": lambda seed: DropoutMLPRegressor(random_state=seed),
    "skdrop dropout_rate='auto'": lambda seed: DropoutMLPRegressor(
        dropout_rate="auto", random_state=seed
    ),
}


def load(data_dir, name):
    data = np.load(Path(data_dir) / f"{DATASETS[name][0]}.npz")
    return data["X"], data["y"], data["train"], data["test"]


def score_split(data_dir, name, split, model):
    """Fit one model on one split; return its scores in the target's units."""
    X, y, train, test = load(data_dir, name)
    X_train, y_train = X[train[split]], y[train[split]]
    X_test, y_test = X[test[split]], y[test[split]]
    mean, scale = y_train.mean(), y_train.std()
    pipeline = make_pipeline(StandardScaler(), MODELS[model](split))
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        pipeline.fit(X_train, (y_train - mean) / scale)
        fit_seconds = time.perf_counter() - start
        network = pipeline[-1]
        if isinstance(network, DropoutMLPRegressor):
            prediction, std = pipeline.predict(X_test, return_std=True)
        else:
            prediction, std = pipeline.predict(X_test), None
    prediction = prediction * scale + mean
    scores = {
        "rmse": float(np.sqrt(np.mean((prediction - y_test) ** 2))),
        "fit_seconds": fit_seconds,
        "epochs": network.n_iter_,
    }
    if std is not None:
        std = std * scale
        z = (y_test - prediction) / std
        scores["log_likelihood"] = float(
            np.mean(-0.5 * np.log(2 * np.pi * std**2) - 0.5 * z**2)
        )
        scores["coverage_95"] = float(np.mean(np.abs(z) <= 1.959964))
        scores["hidden_rate"] = float(network.dropout_rates_[0])
    return scores


def summarise(runs):
    """Mean and standard error over the splits of every score."""
    summary = {}
    for key in runs[0]:
        values = np.array([run[key] for run in runs], dtype=float)
        summary[key] = {
            "mean": float(values.mean()),
            "se": float(values.std(ddof=1) / np.sqrt(len(values))),
        }
    return summary


def blas_description():
    pools = threadpool_info()
    return "; ".join(
        f"{p['internal_api']} {p.get('version')} ({p.get('prefix')}), "
        f"{p['num_threads']} threads"
        for p in pools
    )


def _cell(summary, key, digits):
    if key not in summary:
        return "—"
    entry = summary[key]
    return f"{entry['mean']:.{digits}f} ± {entry['se']:.{digits}f}"


def markdown(results, splits, n_jobs, seconds):
    names = list(results)
    lines = [
        "# UCI regression benchmark",
        "",
        "Written by `python benchmarks/uci.py`. Protocol: the fixed 90 % / 10 % "
        f"train/test splits of Hernández-Lobato & Adams (2015), {splits} per "
        "data set; X standardised by a `StandardScaler` in a `Pipeline`, y "
        "standardised on the training rows; every model at its defaults (seeded "
        "by the split's index). Mean ± standard error over the splits, in the "
        "target's units. Log-likelihood: the Gaussian predictive of "
        "`predict(X, return_std=True)` per test row; coverage: share of test rows "
        "in mean ± 1.96 std. Published: MC dropout with a grid-searched rate and "
        "noise precision (4,000 epochs, 10,000 passes) and deep ensembles of five "
        "networks, as listed in the data's README.",
        "",
        f"Run: {seconds:.0f} s wall with {n_jobs} worker(s), one BLAS thread each; "
        f"BLAS: {blas_description()}.",
        "",
        "## Test RMSE",
        "",
        "| data set | " + " | ".join(MODELS) + " | published MC dropout |",
        "|---|" + "---|" * (len(MODELS) + 1),
    ]
    for name in names:
        row = [_cell(results[name][model], "rmse", 2) for model in MODELS]
        published = f"{DATASETS[name][2]:.2f} ± {DATASETS[name][3]:.2f}"
        lines.append(
            f"| {DATASETS[name][1]} | " + " | ".join(row) + f" | {published} |"
        )
    skdrop_models = [m for m in MODELS if m.startswith("skdrop")]
    lines += [
        "",
        "## Test log-likelihood and 95 % coverage",
        "",
        "| data set | "
        + " | ".join(f"{m} LL | coverage" for m in skdrop_models)
        + " | published MC dropout LL | deep ensemble LL |",
        "|---|" + "---|" * (2 * len(skdrop_models) + 2),
    ]
    for name in names:
        cells = []
        for model in skdrop_models:
            summary = results[name][model]
            cells += [
                _cell(summary, "log_likelihood", 2),
                f"{summary['coverage_95']['mean']:.3f}",
            ]
        published = f"{DATASETS[name][4]:.2f} ± {DATASETS[name][5]:.2f}"
        lines.append(
            f"| {DATASETS[name][1]} | "
            + " | ".join(cells)
            + f" | {published} | {DATASETS[name][6]:.2f} |"
        )
    lines += [
        "",
        "## Learned rates, epochs and fit time",
        "",
        "| data set | model | hidden rate | epochs | fit s |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        for model in MODELS:
            summary = results[name][model]
            lines.append(
                f"| {DATASETS[name][1]} | {model} | "
                f"{_cell(summary, 'hidden_rate', 3)} | "
                f"{summary['epochs']['mean']:.0f} | "
                f"{summary['fit_seconds']['mean']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def plot(results, path):
    """Test log-likelihood per data set: skdrop against the published anchors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    positions = np.arange(len(names))
    series = [(m, results, "log_likelihood") for m in MODELS if m.startswith("skdrop")]
    width = 0.2
    for k, (model, _, key) in enumerate(series):
        means = [results[n][model][key]["mean"] for n in names]
        errors = [results[n][model][key]["se"] for n in names]
        ax.errorbar(
            positions + (k - 1) * width, means, yerr=errors, fmt="o", label=model
        )
    ax.errorbar(
        positions + width,
        [DATASETS[n][4] for n in names],
        yerr=[DATASETS[n][5] for n in names],
        fmt="s",
        color="k",
        label="published MC dropout",
    )
    ax.plot(
        positions + 2 * width,
        [DATASETS[n][6] for n in names],
        "x",
        color="grey",
        label="deep ensemble (5 networks)",
    )
    ax.set_xticks(positions, [DATASETS[n][1] for n in names])
    ax.set_ylabel("test log-likelihood per row")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS))
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument(
        "--models", nargs="+", choices=list(MODELS), help="default: all of them"
    )
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--json", help="also write the summaries as JSON")
    parser.add_argument("--plot", help="write the log-likelihood figure (PNG)")
    parser.add_argument(
        "--replot", metavar="JSON", help="draw --plot from a --json file; no run"
    )
    args = parser.parse_args(argv)
    if args.replot:
        plot(json.loads(Path(args.replot).read_text()), args.plot)
        return 0
    if not Path(args.data_dir).is_dir():
        print(
            f"The UCI data are not at {args.data_dir}: this benchmark needs the "
            "npz files of the fixed splits (see the data's README); pass "
            "--data-dir. Nothing was run.",
            file=sys.stderr,
        )
        return 0
    names = args.datasets or list(DATASETS)
    models = args.models or list(MODELS)
    jobs = [
        (name, split, model)
        for name in names
        for split in range(args.splits)
        for model in models
    ]
    start = time.perf_counter()
    scores = Parallel(n_jobs=args.n_jobs)(
        delayed(score_split)(args.data_dir, *job) for job in jobs
    )
    seconds = time.perf_counter() - start
    results = {
        name: {
            model: summarise(
                [
                    s
                    for job, s in zip(jobs, scores, strict=True)
                    if job[::2] == (name, model)
                ]
            )
            for model in models
        }
        for name in names
    }
    if args.models:  # a partial run: the raw summaries, not the report
        print(json.dumps(results, indent=1))
        return 0
    report = markdown(results, args.splits, args.n_jobs, seconds)
    print(report)
    Path(args.out).write_text(report)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
