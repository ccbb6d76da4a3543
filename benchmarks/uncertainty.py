"""How good is DropoutMLPRegressor's predictive standard deviation?

``DropoutMLPRegressor.predict(X, return_std=True)`` is compared with the two
scikit-learn regressors that return a std, ``BayesianRidge`` and
``GaussianProcessRegressor`` (RBF + white-noise kernel, hyperparameters by
marginal likelihood), on held-out data:

* ``diabetes``: scikit-learn's diabetes data, 70 % train / 30 % test, X and y
  standardised with the training statistics;
* ``friedman1``: scikit-learn's ``make_friedman1`` with noise std 1, 500
  training and 2000 test rows, X and y standardised with the training
  statistics;
* ``heteroscedastic``: 400 training and 2000 test rows of
  ``y = sin(2 x) + x / 2 + e`` with ``x`` uniform on [-3, 3] and noise std
  ``0.1 + 0.3 |x|``, so the true noise varies tenfold across the inputs.

Metrics: RMSE of the mean, mean Gaussian negative log-likelihood (NLL, lower
is better; it punishes both over- and under-confident std), and the coverage
of the 95 % interval ``mean +- 1.96 std`` (ideal: 0.95).

Two DropoutMLPRegressor networks are shown, the default ``(100,)`` and a wide
``(256, 256)`` one that overfits, each with the ``noise_variance_`` that
``fit`` measures (training residuals; one fit) and after the opt-in
``estimate_noise_variance`` (residuals on held-out rows; a second fit on 80 %
of the rows); and the default network with ``early_stopping=True``, whose
``noise_variance_`` comes from the validation rows.

A second table measures the regressor's default ``dropout_rate``: held-out
R² of the default network on diabetes for rates 0 to 0.5.

Run from the repository root::

    python benchmarks/uncertainty.py            # 5 seeds, a few minutes
    python benchmarks/uncertainty.py --quick    # 2 seeds

The markdown report is printed and written to
``benchmarks/results/uncertainty.md``.
"""

# _common comes first: it sets the BLAS thread count, read when numpy loads.
from _common import mean_std, parse_benchmark_args, publish_report, run_over_seeds

# isort: split
import time
import warnings
from functools import partial

import numpy as np
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.linear_model import BayesianRidge
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skdrop import DropoutMLPRegressor

TITLE = "## Predictive uncertainty: DropoutMLPRegressor(return_std=True)"
RATES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
Z_95 = 1.959963984540054


# -- data ----------------------------------------------------------------------


def load_problem(name, seed):
    """(X_train, X_test, y_train, y_test), standardised on the training rows."""
    if name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, random_state=seed
        )
    elif name == "friedman1":
        X, y = make_friedman1(2500, noise=1.0, random_state=seed)
        X_train, X_test, y_train, y_test = X[:500], X[500:], y[:500], y[500:]
    else:
        X_train, y_train = heteroscedastic(400, seed)
        X_test, y_test = heteroscedastic(2000, seed + 10_000)
    scaler = StandardScaler().fit(X_train)
    y_mean, y_std = y_train.mean(), y_train.std()
    return (
        scaler.transform(X_train),
        scaler.transform(X_test),
        (y_train - y_mean) / y_std,
        (y_test - y_mean) / y_std,
    )


def heteroscedastic(n_rows, seed):
    """A smooth mean with noise whose std grows linearly with |x|."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, size=n_rows)
    noise_std = 0.1 + 0.3 * np.abs(x)
    y = np.sin(2 * x) + x / 2 + noise_std * rng.standard_normal(n_rows)
    return x[:, np.newaxis], y


# -- models --------------------------------------------------------------------


def dropout_mean_std(hidden, seed, X_train, y_train, X_test):
    """Mean and std with the fitted noise, then with the held-out estimate."""
    reg = DropoutMLPRegressor(hidden_layer_sizes=hidden, random_state=seed)
    reg.fit(X_train, y_train)
    results = {"fit (training residuals)": reg.predict(X_test, return_std=True)}
    reg.estimate_noise_variance(X_train, y_train)
    results["estimate_noise_variance"] = reg.predict(X_test, return_std=True)
    return results


def gaussian_process():
    kernel = ConstantKernel() * RBF(np.ones(1)) + WhiteKernel()
    return GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2)


def predictions(seed, X_train, y_train, X_test):
    """Mean and std of every contender on the test rows."""
    results = {}
    for hidden in ((100,), (256, 256)):
        runs = dropout_mean_std(hidden, seed, X_train, y_train, X_test)
        for noise, prediction in runs.items():
            results[f"DropoutMLPRegressor {hidden}, {noise}"] = prediction
    stopped = DropoutMLPRegressor(early_stopping=True, random_state=seed)
    stopped.fit(X_train, y_train)
    results["DropoutMLPRegressor (100,), early_stopping (validation rows)"] = (
        stopped.predict(X_test, return_std=True)
    )
    bayes = BayesianRidge().fit(X_train, y_train)
    results["BayesianRidge"] = bayes.predict(X_test, return_std=True)
    gp = gaussian_process()
    gp.set_params(kernel__k1__k2__length_scale=np.ones(X_train.shape[1]))
    gp.fit(X_train, y_train)
    results["GaussianProcessRegressor"] = gp.predict(X_test, return_std=True)
    return results


# -- metrics -------------------------------------------------------------------


def scores(y, mean, std):
    """RMSE, mean Gaussian NLL and 95 % coverage."""
    residual = y - mean
    variance = std**2
    nll = 0.5 * np.log(2 * np.pi * variance) + residual**2 / (2 * variance)
    coverage = np.abs(residual) <= Z_95 * std
    return np.sqrt(np.mean(residual**2)), nll.mean(), coverage.mean()


def uncertainty_table(problem, per_seed):
    lines = [
        f"### {problem}",
        "",
        "| model | RMSE | NLL | 95 % coverage |",
        "|---|---|---|---|",
    ]
    for name in per_seed[0]:
        rmse, nll, coverage = zip(*(seed[name] for seed in per_seed), strict=True)
        lines.append(
            f"| {name} | {mean_std(rmse)} | {mean_std(nll)} | {mean_std(coverage)} |"
        )
    return "\n".join(lines)


def rate_table(r2_by_rate):
    reference = np.asarray(r2_by_rate[0.1])
    lines = [
        "### Default dropout_rate of DropoutMLPRegressor (diabetes, held-out R²)",
        "",
        "| dropout_rate | R² | R² minus R² at 0.1 (paired) |",
        "|---|---|---|",
    ]
    for rate, r2 in r2_by_rate.items():
        difference = np.asarray(r2) - reference
        lines.append(f"| {rate:g} | {mean_std(r2)} | {mean_std(difference, 4)} |")
    best = max(r2_by_rate, key=lambda rate: np.mean(r2_by_rate[rate]))
    lines += ["", f"Best mean held-out R²: dropout_rate={best:g}."]
    return "\n".join(lines)


# -- runs ----------------------------------------------------------------------


def uncertainty_scores(problem, seed):
    """Scores of every contender on one seed's test rows."""
    X_train, X_test, y_train, y_test = load_problem(problem, seed)
    results = predictions(seed, X_train, y_train, X_test)
    return {name: scores(y_test, *prediction) for name, prediction in results.items()}


def run_uncertainty(n_seeds):
    sections = []
    for problem in ("diabetes", "friedman1", "heteroscedastic"):
        run = partial(uncertainty_scores, problem)
        per_seed = run_over_seeds(problem, n_seeds, run)
        sections.append(uncertainty_table(problem, per_seed))
    return sections


def rate_scores(seed):
    """Held-out R² on diabetes of the default network, for every rate."""
    X_train, X_test, y_train, y_test = load_problem("diabetes", seed)
    r2 = {}
    for rate in RATES:
        reg = DropoutMLPRegressor(dropout_rate=rate, random_state=seed)
        reg.fit(X_train, y_train)
        r2[rate] = r2_score(y_test, reg.predict(X_test))
    return r2


def run_rates(n_seeds):
    per_seed = run_over_seeds("dropout_rate study", n_seeds, rate_scores)
    return rate_table({rate: [r2[rate] for r2 in per_seed] for rate in RATES})


def main(argv=None):
    args = parse_benchmark_args(__doc__, "uncertainty", "2 seeds", argv)
    n_seeds = args.seeds
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    start = time.perf_counter()
    sections = run_uncertainty(n_seeds)
    sections.append(run_rates(n_seeds))
    summary = (
        f"{n_seeds} seeds, mean ± std over seeds. Defaults everywhere "
        f"(DropoutMLPRegressor: dropout_rate={DropoutMLPRegressor().dropout_rate}, "
        "30 Monte Carlo passes); the "
        "GP has an RBF (one length scale per feature) + white-noise kernel. "
        "NLL: mean Gaussian negative log-likelihood on the test rows (lower is "
        "better); coverage: share of test targets inside mean ± 1.96 std."
    )
    publish_report(TITLE, summary, sections, start, args.output)


if __name__ == "__main__":
    main()
