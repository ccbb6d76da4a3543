"""python -m skdrop compare: whole runs on tiny budgets."""

import importlib
import json
import os
import re
import sys
import threading

import numpy as np
import pytest
from joblib import Parallel, delayed

from skdrop.compare.cli import main

# The smallest budget that still exercises every part: 1 x 2-fold outer CV,
# 2 candidates x 2 inner folds, a tiny network.
TINY = [
    "--hidden", "8", "--max-iter", "15", "--repeats", "1", "--folds", "2",
    "--inner-folds", "2", "--dropout-grid", "0,0.5", "--alpha-grid", "0.0001,0.1",
    "--quiet",
]  # fmt: skip


def mixed_csv(path, task):
    """Numeric, boolean and categorical features, with missing values in a
    numeric and a categorical column; a boolean label or a float target."""
    rng = np.random.default_rng(0)
    n = 60
    x1, x2 = rng.normal(size=n), rng.uniform(0, 100, size=n)
    flag = rng.random(n) < 0.5
    colour = rng.choice(["red", "green", "blue"], size=n)
    if task == "classification":
        target = x1 + (colour == "red") > 0.3
    else:
        target = 3 * x1 + (colour == "blue") + rng.normal(scale=0.1, size=n)
    lines = ["x1,x2,flag,colour,target"]
    for i, (a, b, f, c, t) in enumerate(zip(x1, x2, flag, colour, target, strict=True)):
        b = "" if i % 11 == 0 else f"{b:.2f}"
        c = "" if i % 7 == 0 else c
        lines.append(f"{a:.4f},{b},{f},{c},{t}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_csv_round_trip_to_json(tmp_path, capsys, task):
    csv = mixed_csv(tmp_path / "data.csv", task)
    out = tmp_path / "report.json"
    main(["compare", "--csv", csv, "--target", "target", "--json", str(out), *TINY])
    text = capsys.readouterr().out
    # Booleans count as categories; missing values are imputed.
    assert "2 categorical, one-hot encoded" in text and "Verdict" in text
    if task == "classification":
        assert "classification (target is not numeric)" in text
    report = json.loads(out.read_text())
    assert set(report) >= {
        "dataset", "settings", "search", "models", "differences", "verdict",
        "blas_threads_per_worker", "elapsed_seconds", "skdrop_version",
    }  # fmt: skip
    assert report["dataset"]["task"] == task
    assert report["dataset"]["categorical_columns"] == ["flag", "colour"]
    assert report["search"]["skdrop"]["grid"] == [0.0, 0.5]
    assert report["search"]["sklearn"]["grid"] == [0.0001, 0.1]
    assert len(report["models"]) == 4
    assert report["blas_threads_per_worker"] == 1
    # 2 splits x (2 candidates x 2 inner folds + the default and chosen refits)
    for reached, total in report["max_iter_reached"].values():
        assert 0 <= reached <= total and 10 <= total <= 12
    for model in report["models"].values():
        assert len(model["fit_seconds"]["per_split"]) == 2
        for key, interval in model.items():
            if isinstance(interval, dict):
                assert interval["low"] <= interval["mean"] <= interval["high"], key
        if task == "classification":
            assert 0 <= model["accuracy"]["mean"] <= 1
            assert model["log_loss"]["mean"] >= 0
            assert 0 <= model["brier"]["mean"] <= 2
            assert 0 <= model["ece"]["mean"] <= 1
        else:
            assert model["r2"]["mean"] <= 1 and model["rmse"]["mean"] >= 0
            if model["family"] == "skdrop":
                assert 0 <= model["coverage_95"]["mean"] <= 1
                assert np.isfinite(model["log_likelihood"]["mean"])
            else:
                assert "coverage_95" not in model
    verdicts = {d["verdict"] for d in report["differences"]}
    assert verdicts <= {
        "skdrop better",
        "skdrop worse",
        "no detectable difference at 95 %",
    }


def _run_captured(argv):
    """main(argv) with stdout and stderr captured (neither is a terminal)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main(argv)
    return out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    """One run on iris writing every report, shared by the tests that read
    them: without --quiet (the progress bar is left to stderr's isatty)."""
    folder = tmp_path_factory.mktemp("iris")
    paths = {
        "json": folder / "report.json",
        "markdown": folder / "report.md",
        "plot": folder / "curve.png",
    }
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        del paths["plot"]  # test_markdown_report_and_plot skips
    argv = ["compare", "--dataset", "iris", *TINY[:-1]]
    for option, path in paths.items():
        argv += [f"--{option}", str(path)]
    out, err = _run_captured(argv)
    return {"out": out, "err": err, **paths}


def _start_two_workers():
    """joblib's two worker processes, started when pytest imports this
    module, from a thread: the workers' start, mostly importing
    scikit-learn (2-5 s on a 2-core machine), overlaps the tests before the
    diabetes run on the second core, and that run and test_sklearn_compat's
    loky search reuse them instead of waiting for them. The workers run
    below the tests' priority, as the runs of support.start_in_background do.
    """

    def lowered_with_skdrop_imported():
        if os.name == "posix":
            os.nice(5)
        importlib.import_module("skdrop")

    jobs = [delayed(lowered_with_skdrop_imported)() for _ in range(2)]
    threading.Thread(target=Parallel(n_jobs=2), args=(jobs,), daemon=True).start()


_start_two_workers()


@pytest.fixture(scope="module")
def diabetes_run(tmp_path_factory):
    """One run on diabetes in two worker processes, with a JSON report."""
    out = tmp_path_factory.mktemp("diabetes") / "report.json"
    argv = ["compare", "--dataset", "diabetes", "--n-jobs", "2", "--json", str(out)]
    terminal, _ = _run_captured([*argv, *TINY])
    return terminal, json.loads(out.read_text())


def test_markdown_report_and_plot(iris_run):
    pytest.importorskip("matplotlib")
    md, png = iris_run["markdown"], iris_run["plot"]
    terminal = iris_run["out"]
    text = md.read_text()
    assert text.startswith("# skdrop compare: iris\n")
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert table[0].split("|")[2].strip() == "MLPClassifier (defaults)"
    assert set(table[1]) <= {"|", "-"}
    rows = [line.split("|")[1].strip() for line in table]
    assert rows[2:9] == ["accuracy", "log loss", "Brier score", "ECE", "fit s",
                         "predict s", "chosen"]  # fmt: skip
    # The terminal shows the same tables as the file.
    assert all(line in terminal for line in table)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_regression_dataset_in_two_workers(diabetes_run):
    text, _ = diabetes_run
    assert "with 2 worker(s), 1 BLAS thread(s) each" in text
    # 15 epochs stop every fit before convergence; the report says so.
    pattern = r"before converging: (\d+) of \1 \(sklearn\), (\d+) of \2 \(skdrop\)"
    assert re.search(pattern, text)
    assert "| 95 % coverage  | -" in text
    assert "Verdict (both tuned, R²)" in text


def test_no_progress_bar_when_stderr_is_not_a_terminal(iris_run):
    assert iris_run["err"] == ""


def test_progress_bar_draws_on_a_terminal_and_degrades_without_rich(
    monkeypatch, capsys
):
    from skdrop.compare.run import _progress_bar

    pytest.importorskip("rich")
    # rich treats stderr as a terminal when FORCE_COLOR is set.
    monkeypatch.setenv("FORCE_COLOR", "1")
    with _progress_bar(3, enabled=True) as advance:
        for _ in range(3):
            advance()
    err = capsys.readouterr().err
    assert "cross-validation splits" in err and "100%" in err
    monkeypatch.setitem(sys.modules, "rich.progress", None)
    with _progress_bar(3, enabled=True) as advance:
        advance()
    assert capsys.readouterr() == ("", "")


# -- calibration: temperature scaling and Monte Carlo averages ---------------


def test_classification_report_scores_temperature_scaled_probabilities(iris_run):
    text = iris_run["out"]
    calibration = json.loads(iris_run["json"].read_text())["calibration"]
    # Per setting: sklearn and skdrop scaled, skdrop's Monte Carlo average
    # before and after scaling.
    assert len(calibration["models"]) == 8
    for name, model in calibration["models"].items():
        assert ("accuracy" in model) == (model["variant"] == "mc_"), name
        assert ("temperature" in model) == (model["variant"] != "mc_"), name
        assert 0 <= model["ece"]["mean"] <= 1 and model["log_loss"]["mean"] >= 0
        if "temperature" in model:
            assert all(t > 0 for t in model["temperature"]["per_split"])
    # log loss, Brier, ECE x plain / Monte Carlo x defaults / tuned.
    assert len(calibration["differences"]) == 12
    assert calibration["verdict"].startswith("Calibration verdict (both tuned")
    assert "After temperature scaling" in text and calibration["verdict"] in text


def test_regression_report_has_no_calibration(diabetes_run):
    _, report = diabetes_run
    assert report["dataset"]["task"] == "regression"
    assert "calibration" not in report


def test_temperature_scaling_is_calibrated_classifier_cv_on_the_inner_folds():
    """Fitting the temperature on the inner search's out-of-fold predictions
    gives what CalibratedClassifierCV(ensemble=False) gives by refitting."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.preprocessing import LabelEncoder

    from skdrop.compare import run as _compare
    from skdrop.compare import scores as _scores
    from skdrop.compare.data import load_bundled

    dataset = load_bundled("wine")
    settings = _compare.Settings(
        task="classification", hidden=(8,), max_iter=30, seed=0, repeats=1,
        folds=2, inner_folds=2, n_jobs=1, alpha_grid=(1e-4, 0.1),
        dropout_grid=(0.0, 0.5),
    )  # fmt: skip
    y = LabelEncoder().fit_transform(dataset.y)
    train, test = settings.outer_splits(dataset.X, y)[0]
    X_train, y_train = dataset.X[train], y[train]
    for family in settings.families:
        result = _compare._evaluate_family(family, dataset, y, train, test, settings)
        for value in {family.default, result["chosen"]}:
            fitted, _ = _compare._fit(
                family, value, dataset, settings, X_train, y_train
            )
            reference = CalibratedClassifierCV(
                fitted.model,
                method="temperature",
                cv=settings.inner_splits(X_train, y_train),
                ensemble=False,
            ).fit(X_train, y_train)
            proba = reference.predict_proba(dataset.X[test])
            expected = _scores.probability_scores(y[test], proba)
            scores = result["outer"][value]
            for key in ("log_loss", "brier", "ece"):
                assert scores["ts_" + key] == pytest.approx(expected[key], rel=1e-9)
            if family.key == "skdrop":
                assert "mc_ts_log_loss" in scores
                if value == 0.0:  # no dropout: the passes are the network
                    assert scores["mc_log_loss"] == pytest.approx(
                        scores["log_loss"], rel=1e-9
                    )
            else:
                assert not any(key.startswith("mc_") for key in scores)


def test_temperature_scaled_softens_overconfident_probabilities():
    from skdrop.compare.scores import temperature_scaled

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    # Right 60 % of the time, but with probability 0.98.
    predicted = np.where(rng.random(600) < 0.6, y, (y + 1) % 3)
    proba = np.full((600, 4), 0.01)
    proba[np.arange(600), predicted] = 0.98
    proba[:, 3] = 0.0  # a class no training row had
    proba /= proba.sum(axis=1, keepdims=True)
    scaled, temperature = temperature_scaled(proba[:300], y[:300], proba[300:])
    assert temperature > 2
    np.testing.assert_allclose(scaled.sum(axis=1), 1.0)
    assert (scaled[:, 3] == 0).all()
    np.testing.assert_array_equal(scaled.argmax(axis=1), proba[300:].argmax(axis=1))
    top = scaled.max(axis=1).mean()
    assert 0.5 < top < 0.75  # near the 60 % accuracy, far from 0.98
    # A single class leaves nothing to calibrate.
    same, one = temperature_scaled(proba[:10], np.zeros(10, int), proba[10:20])
    assert one == 1.0
    np.testing.assert_array_equal(same, proba[10:20])
