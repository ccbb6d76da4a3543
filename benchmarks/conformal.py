"""Conformal intervals normalised by Monte Carlo dropout, on five UCI data sets.

Split-conformal regression (crepes' ``ConformalRegressor``) at a nominal 90 %,
with the predictive standard deviation of ``predict(X, return_std=True)`` as
the difficulty estimate, against the same intervals without normalisation
and against the Gaussian intervals ``mean ± 1.645 std``. The data are the
UCI sets of Hernández-Lobato & Adams (2015) with their 20 fixed train/test
splits (``../shared/uci/*.npz`` beside the repository, or ``--data-dir``).

Per split: a quarter of the training rows (drawn with the split's index as
seed) is the calibration set; X and y are standardised on the other three
quarters, on which the network trains; the three intervals all come from that
one network, centred on its Monte Carlo mean; coverage and width are measured
on the split's test rows, widths in the target's units.

    python benchmarks/conformal.py              # about 90 s on 2 cores
    python benchmarks/conformal.py --splits 3   # a smoke run

Needs crepes (``pip install -e ".[conformal]"``).
"""

import argparse
import subprocess
import sys
import time
import warnings
from pathlib import Path

import _common
import numpy as np
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skdrop import DropoutMLPRegressor

# Every setting the results depend on, spelled out rather than left to the
# regressor's defaults (which are being changed): the report lists them.
ESTIMATOR_SETTINGS = {
    "hidden_layer_sizes": (50,),
    "dropout_rate": 0.1,
    "input_dropout_rate": 0.0,
    "alpha": 1e-4,
    "batch_size": 128,
    "learning_rate_init": 1e-2,
    "max_iter": 1000,
    "tol": 1e-4,
    "n_iter_no_change": 1000,
    "early_stopping": False,
}
DATA_SETS = {
    "Boston": "bostonHousing",
    "Concrete": "concrete",
    "Energy": "energy",
    "Wine (red)": "wine-quality-red",
    "Yacht": "yacht",
}
CONFIDENCE = 0.9
CALIBRATION_FRACTION = 0.25
METHODS = (
    "conformal, normalised by MC std",
    "conformal, unnormalised",
    "Gaussian, mean ± 1.645 std",
)
DEFAULT_DATA_DIR = _common.REPO_ROOT.parent / "shared" / "uci"


def run_split(X, y, train, test, seed):
    """Coverage and mean width of the three intervals on one split."""
    from crepes import ConformalRegressor

    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(train)
    n_cal = round(CALIBRATION_FRACTION * len(train))
    calibration, proper = shuffled[:n_cal], shuffled[n_cal:]
    x_scaler = StandardScaler().fit(X[proper])
    y_mean, y_std = y[proper].mean(), y[proper].std()

    def scaled(rows):
        return x_scaler.transform(X[rows]), (y[rows] - y_mean) / y_std

    X_fit, y_fit = scaled(proper)
    X_cal, y_cal = scaled(calibration)
    X_test, y_test = scaled(test)
    reg = DropoutMLPRegressor(**ESTIMATOR_SETTINGS, random_state=seed)
    reg.fit(X_fit, y_fit)
    mean_cal, std_cal = reg.predict(X_cal, return_std=True)
    mean, std = reg.predict(X_test, return_std=True)

    normalised = ConformalRegressor().fit(y_cal - mean_cal, sigmas=std_cal)
    plain = ConformalRegressor().fit(y_cal - mean_cal)
    half = norm.ppf(0.5 + CONFIDENCE / 2) * std
    intervals = {
        METHODS[0]: normalised.predict_int(mean, sigmas=std, confidence=CONFIDENCE),
        METHODS[1]: plain.predict_int(mean, confidence=CONFIDENCE),
        METHODS[2]: np.column_stack([mean - half, mean + half]),
    }
    result = {}
    for method, bounds in intervals.items():
        inside = (bounds[:, 0] <= y_test) & (y_test <= bounds[:, 1])
        width = np.mean(bounds[:, 1] - bounds[:, 0]) * y_std
        result[method] = (inside.mean(), width)
    return result, reg.n_iter_


def _mean_se(values, scale=1.0, digits=3):
    values = np.asarray(values) * scale
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
    return f"{values.mean():.{digits}f} ± {se:.{digits}f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="folder of the UCI .npz files (default: ../shared/uci beside the "
        "repository)",
    )
    parser.add_argument("--splits", type=int, default=20, help="splits per data set")
    parser.add_argument(
        "--output", type=Path, default=_common.RESULTS_DIR / "conformal.md"
    )
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        print(
            f"Skipped: the UCI data folder {args.data_dir} does not exist. Give "
            "its location with --data-dir (the five .npz files of "
            "shared/uci/README.md)."
        )
        return 0
    try:
        import crepes  # noqa: F401
    except ImportError:
        print('Skipped: crepes is not installed (pip install -e ".[conformal]").')
        return 0
    warnings.simplefilter("ignore", ConvergenceWarning)

    start = time.perf_counter()
    rows, missing, n_iters = [], [], []
    for label, stem in DATA_SETS.items():
        path = args.data_dir / f"{stem}.npz"
        if not path.is_file():
            missing.append(path.name)
            continue
        data = np.load(path)
        n_splits = min(args.splits, len(data["train"]))
        began = time.perf_counter()
        runs = []
        for i in range(n_splits):
            result, n_iter = run_split(
                data["X"], data["y"], data["train"][i], data["test"][i], seed=i
            )
            runs.append(result)
            n_iters.append(n_iter)
        seconds = time.perf_counter() - began
        coverage = {m: [run[m][0] for run in runs] for m in METHODS}
        width = {m: [run[m][1] for run in runs] for m in METHODS}
        rows.append((label, n_splits, coverage, width, seconds))
        print(f"{label}: {n_splits} splits in {seconds:.0f} s", file=sys.stderr)

    report = _report(rows, missing, n_iters, time.perf_counter() - start)
    print(report)
    args.output.write_text(report)
    return 0


def _report(rows, missing, n_iters, seconds):
    settings = ", ".join(f"{k}={v!r}" for k, v in ESTIMATOR_SETTINGS.items())
    lines = [
        "## Conformal intervals normalised by Monte Carlo dropout (UCI)",
        "",
        f"Nominal coverage {CONFIDENCE:.0%}. Per split (the fixed train/test "
        "splits of Hernández-Lobato & Adams 2015): a calibration set of "
        f"{CALIBRATION_FRACTION:.0%} of the training rows is carved from each "
        "training split (seeded by the split's index); X is standardised and y "
        "standardised on the remaining training rows, on which "
        f"`DropoutMLPRegressor({settings}, random_state=split)` trains. The "
        "three intervals come from that one network and are centred on its "
        "Monte Carlo mean (`predict(X, return_std=True)`, 30 passes):",
        "",
        "* **conformal, normalised**: split-conformal (crepes "
        "`ConformalRegressor`) with score |y - mean| / std on the calibration "
        "set, interval mean ± q std;",
        "* **conformal, unnormalised**: the same with score |y - mean|, "
        "interval mean ± q;",
        "* **Gaussian**: mean ± 1.645 std, no calibration.",
        "",
        "Coverage is the fraction of a split's test rows inside their "
        "interval, width the mean interval width in the target's units; both "
        "are mean ± standard error over the splits.",
        "",
        "| data set | splits | "
        + " | ".join(f"coverage: {m}" for m in METHODS)
        + " | "
        + " | ".join(f"width: {m}" for m in METHODS)
        + " |",
        "|---|---|" + "---|" * (2 * len(METHODS)),
    ]
    narrower = 0
    in_target = 0
    for label, n_splits, coverage, width, _ in rows:
        cells = [_mean_se(coverage[m], 100, 1) for m in METHODS]
        cells += [_mean_se(width[m], 1, 3) for m in METHODS]
        lines.append(f"| {label} | {n_splits} | " + " | ".join(cells) + " |")
        narrower += np.mean(width[METHODS[0]]) <= np.mean(width[METHODS[1]])
        in_target += 0.88 <= np.mean(coverage[METHODS[0]]) <= 0.92
    lines += [
        "",
        f"Normalised conformal: mean coverage within 88-92 % on {in_target} of "
        f"{len(rows)} data sets; mean width at or below the unnormalised "
        f"intervals' on {narrower} of {len(rows)}.",
        "",
        "Width ratio normalised / unnormalised, mean ± standard error over "
        "splits (paired): "
        + "; ".join(
            f"{label} {_mean_se(np.divide(width[METHODS[0]], width[METHODS[1]]))}"
            for label, _, _, width, _ in rows
        )
        + ".",
    ]
    lines += [
        "",
        "Notes:",
        "",
        "* The estimator settings are the script's constant "
        "`ESTIMATOR_SETTINGS`, every one spelled out, so the figures do not "
        "depend on the regressor's defaults (fixed 1,000 epochs: "
        "`n_iter_no_change` equals `max_iter`).",
        "* Split conformal guarantees a mean coverage of at least 90 % and "
        "less than 90 % + 1 / (n_cal + 1). crepes takes the "
        "floor((1 - confidence)(n_cal + 1))-th largest score, and computes "
        "(1 - 0.9) as 0.09999999999999998: when 0.1 (n_cal + 1) is an integer "
        "it takes one rank more. Yacht's 69 calibration rows give 7.0, hence "
        "the 6th largest of 69 scores and an expected coverage of 64 / 70 = "
        "91.4 % (exactly 90 % with the 7th).",
        "* The Gaussian intervals use `noise_variance_`, measured on the "
        "training rows, and have no coverage guarantee.",
    ]
    if n_iters:
        lines += [
            "",
            f"Epochs run (n_iter_): median {np.median(n_iters):.0f}, range "
            f"{min(n_iters)}-{max(n_iters)}.",
        ]
    if missing:
        lines += ["", "Missing data files (skipped): " + ", ".join(missing) + "."]
    lines += [
        "",
        f"skdrop: {_source_version()}. Total time: {seconds:.0f} s (one process).",
    ]
    return "\n".join(lines) + "\n"


def _source_version():
    """The commit benchmarked, and whether skdrop/ had uncommitted changes."""

    def git(*args):
        return subprocess.run(
            ["git", *args],
            cwd=_common.REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "not a git checkout"
    changed = git("status", "--porcelain", "--", "skdrop")
    return f"commit {commit}" + (
        " with uncommitted changes to skdrop/" if changed else ""
    )


if __name__ == "__main__":
    sys.exit(main())
