"""The command line: python -m skdrop compare."""

import re
import subprocess
import sys

import pytest

from skdrop.__main__ import main


def test_compare_prints_a_table_with_both_models(capsys):
    main(["compare", "--dataset", "iris", "--hidden", "32", "--max-iter", "300"])
    out = capsys.readouterr().out
    assert "sklearn MLPClassifier" in out and "skdrop (CV)" in out
    header = next(line for line in out.splitlines() if line.startswith("| model"))
    for column in ["accuracy", "log loss", "fit s", "dropout_rate"]:
        assert column in header
    skdrop_row = next(line for line in out.splitlines() if "skdrop (CV)" in line)
    accuracy = float(skdrop_row.split("|")[2])
    assert 0.5 < accuracy <= 1.0
    assert re.search(r"\| (0|0\.1|0\.2|0\.3|0\.5)\s+\|$", skdrop_row)


def test_compare_regression_dataset(capsys):
    main(["compare", "--dataset", "diabetes", "--hidden", "16", "--max-iter", "30"])
    out = capsys.readouterr().out
    assert "sklearn MLPRegressor" in out and "R2" in out


def test_compare_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "score.png"
    main(
        [
            "compare",
            "--dataset",
            "iris",
            "--hidden",
            "8",
            "--max-iter",
            "10",
            "--plot",
            str(path),
        ]
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_dataset_is_refused():
    result = subprocess.run(
        [sys.executable, "-m", "skdrop", "compare", "--dataset", "mnist"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
