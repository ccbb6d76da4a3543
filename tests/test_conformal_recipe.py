"""The conformal recipe of docs/conformal.rst: split-conformal intervals from
crepes, normalised by ``predict(X, return_std=True)``'s standard deviation;
and the protocol of benchmarks/conformal.py on a small synthetic data set.

Skipped without crepes (the ``conformal`` and ``test`` extras install it)."""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from skdrop import DropoutMLPRegressor

crepes = pytest.importorskip("crepes")

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _sparse_on_the_right(n, seed):
    """Nine rows in ten with x in [-3, 0], the rest in [0, 3]."""
    rng = np.random.default_rng(seed)
    x = np.where(rng.random(n) < 0.9, rng.uniform(-3, 0, n), rng.uniform(0, 3, n))
    y = np.sin(2 * x) + 0.2 * x + rng.normal(scale=0.15, size=n)
    return x[:, np.newaxis], y


@pytest.fixture(scope="module")
def fitted():
    X, y = _sparse_on_the_right(600, seed=0)
    model = DropoutMLPRegressor(
        hidden_layer_sizes=(32,),
        dropout_rate=0.1,
        learning_rate_init=0.01,
        batch_size=64,
        max_iter=60,
        n_iter_no_change=60,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    # Rows the model never saw, for calibration and test.
    X_new, y_new = _sparse_on_the_right(4000, seed=1)
    mean, std = model.predict(X_new, return_std=True)
    return X_new, y_new, mean, std


def _normalised_intervals(residuals_cal, std_cal, mean, std, confidence=0.9):
    cr = crepes.ConformalRegressor().fit(residuals_cal, sigmas=std_cal)
    return cr.predict_int(mean, sigmas=std, confidence=confidence)


def test_interval_is_mean_plus_minus_the_score_quantile_times_std(fitted):
    """What crepes computes is the textbook normalised split-conformal
    interval: q is the ceil(0.9 (n + 1))-th smallest of |y - mean| / std."""
    _, y, mean, std = fitted
    cal, test = slice(0, 200), slice(200, 260)
    bounds = _normalised_intervals(y[cal] - mean[cal], std[cal], mean[test], std[test])
    scores = np.sort(np.abs(y[cal] - mean[cal]) / std[cal])
    q = scores[int(np.ceil(0.9 * 201)) - 1]
    np.testing.assert_allclose(bounds[:, 0], mean[test] - q * std[test])
    np.testing.assert_allclose(bounds[:, 1], mean[test] + q * std[test])
    # The width follows the Monte Carlo standard deviation row by row.
    assert np.ptp(std[test]) > 0.01
    np.testing.assert_allclose((bounds[:, 1] - bounds[:, 0]) / std[test], 2 * q)


def test_coverage_is_90_percent_on_average_over_calibration_draws(fitted):
    """20 random calibration / test partitions of unseen rows: the mean
    coverage is within two standard errors of the guarantee's 90-90.5 %."""
    _, y, mean, std = fitted
    rng = np.random.default_rng(0)
    coverages = []
    for _ in range(20):
        rows = rng.permutation(len(y))
        cal, test = rows[:200], rows[200:1200]
        bounds = _normalised_intervals(
            y[cal] - mean[cal], std[cal], mean[test], std[test]
        )
        coverages.append(np.mean((bounds[:, 0] <= y[test]) & (y[test] <= bounds[:, 1])))
    mean_coverage = np.mean(coverages)
    standard_error = np.std(coverages, ddof=1) / np.sqrt(len(coverages))
    assert 0.9 - 2 * standard_error <= mean_coverage <= 0.905 + 2 * standard_error
    # The uncalibrated Gaussian band has no such guarantee: 96 % here.
    gaussian = np.mean(np.abs(y - mean) <= 1.645 * std)
    assert abs(gaussian - 0.9) > 2 * standard_error


def test_normalised_intervals_cover_the_sparse_region_better(fitted):
    """The Monte Carlo std is larger where the data are sparse (x > 0), so
    the normalised intervals widen there and miss fewer rows than plain
    split-conformal intervals of one width: 81 % against 57 % of the sparse
    test rows, for a mean width 5 % smaller."""
    X, y, mean, std = fitted
    cal, test = slice(0, 1000), slice(1000, None)
    sparse = X[test, 0] > 0
    assert std[test][sparse].mean() > std[test][~sparse].mean()
    normalised = _normalised_intervals(
        y[cal] - mean[cal], std[cal], mean[test], std[test]
    )
    plain = crepes.ConformalRegressor().fit(y[cal] - mean[cal])
    plain = plain.predict_int(mean[test], confidence=0.9)

    def covered(bounds):
        return (bounds[:, 0] <= y[test]) & (y[test] <= bounds[:, 1])

    assert covered(normalised)[sparse].mean() > covered(plain)[sparse].mean()


# -- benchmarks/conformal.py -------------------------------------------------


@pytest.fixture
def conformal_script(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("conformal", None)
    import conformal

    # A few epochs: the test checks the protocol, not the numbers.
    monkeypatch.setitem(conformal.ESTIMATOR_SETTINGS, "max_iter", 5)
    monkeypatch.setitem(conformal.ESTIMATOR_SETTINGS, "n_iter_no_change", 5)
    yield conformal
    sys.modules.pop("conformal", None)


def test_benchmark_skips_with_a_message_without_the_data(
    conformal_script, tmp_path, capsys
):
    output = tmp_path / "report.md"
    code = conformal_script.main(
        ["--data-dir", str(tmp_path / "absent"), "--output", str(output)]
    )
    assert code == 0
    assert "Skipped: the UCI data folder" in capsys.readouterr().out
    assert not output.exists()


def test_benchmark_default_data_dir_is_shared_uci_beside_the_repository(
    conformal_script,
):
    root = BENCHMARKS.parent
    expected = root.parent / "shared" / "uci"
    assert expected == conformal_script.DEFAULT_DATA_DIR


def test_benchmark_reports_each_data_set_found(conformal_script, tmp_path):
    """Two splits of a synthetic 'yacht.npz' in the UCI layout; the other
    data sets are missing and listed as skipped."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(scale=0.3, size=120) + 10
    splits = [rng.permutation(120) for _ in range(2)]
    np.savez(
        tmp_path / "yacht.npz",
        X=X,
        y=y,
        train=np.array([s[:100] for s in splits], dtype=np.int32),
        test=np.array([s[100:] for s in splits], dtype=np.int32),
    )
    output = tmp_path / "report.md"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conformal_script.main(["--data-dir", str(tmp_path), "--output", str(output)])
    report = output.read_text()
    assert "| Yacht | 2 |" in report
    assert "Missing data files (skipped): bostonHousing.npz" in report
    # Coverage in percent: three per-method cells, each within [0, 100].
    row = next(line for line in report.splitlines() if line.startswith("| Yacht"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    coverages = [float(c.split(" ± ")[0]) for c in cells[2:5]]
    assert all(0 <= c <= 100 for c in coverages)
    assert "max_iter=5" in report
