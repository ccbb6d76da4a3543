"""python -m skdrop compare: data and resources checked before any fit.

Whatever would make a fit fail or silently change the question (an infinite
value, a number too large to standardise, a column name given twice, a
network too big for memory, more workers than splits) is found before the
first fit, on one line that names the column or the option.
"""

import json

import numpy as np
import pytest
from support import usage_error

from skdrop.compare import run as _compare
from skdrop.compare.cli import _workers, main
from skdrop.compare.data import load_csv

TINY = [
    "--hidden", "2", "--max-iter", "2", "--repeats", "1", "--dropout-grid", "0",
    "--alpha-grid", "0.1", "--quiet",
]  # fmt: skip


@pytest.fixture
def no_work(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the comparison ran despite a problem in the data")

    monkeypatch.setattr(_compare, "run_comparison", refuse)


def csv_file(path, header, columns):
    """A CSV file of 40 rows; ``columns`` maps a name to a function of the row."""
    lines = [header] + [
        ",".join(str(column(i)) for column in columns) for i in range(40)
    ]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def a(i):
    return round(np.sin(i), 4)


def label(i):
    return i % 2


def amount(i):
    return round(3 * np.sin(i) + i / 7, 4)


PROBLEMS = {
    # name: (header, columns, what the error must say)
    "inf feature": ("a,b,y", [lambda i: "inf" if i == 5 else a(i), a, label],
                    "column 'a' holds infinite values (1 of them, the first in "
                    "data row 6"),
    "-inf feature": ("a,b,y", [a, lambda i: "-inf" if i % 9 == 0 else a(i), label],
                     "column 'b' holds infinite values (5 of them"),
    "inf regression target": ("a,b,y", [a, a, lambda i: "inf" if i == 3 else amount(i)],
                              "--target 'y' holds infinite values"),
    "inf class label": ("a,b,y", [a, a, lambda i: "inf" if i < 20 else 1],
                        "--target 'y' holds infinite values"),
    "target too large": ("a,b,y", [a, a, lambda i: amount(i) * 1e200],
                         "--target 'y' holds values as large as"),
    "feature too large": ("a,b,y", [lambda i: a(i) * 1e200, a, label],
                          "column 'a' holds values as large as"),
    "only feature empty": ("a,y", [lambda i: "", label],
                           "every feature column is empty in every row ('a')"),
    "target named twice": ("a,b,y,y", [a, a, label, label],
                           "the header names 'y' more than once"),
    "feature named twice": ("a,a,y", [a, a, label],
                            "the header names 'a' more than once"),
}  # fmt: skip


@pytest.mark.usefixtures("no_work")
@pytest.mark.parametrize("problem", PROBLEMS)
def test_csv_problems_are_one_line_errors_before_any_fit(capsys, tmp_path, problem):
    header, columns, message = PROBLEMS[problem]
    path = csv_file(tmp_path / "data.csv", header, columns)
    assert message in usage_error(capsys, ["--csv", path, "--target", "y"])


def test_a_column_empty_in_every_row_is_dropped_and_reported(tmp_path, capsys):
    # A trailing comma on every line makes one ('Unnamed: 3').
    path = csv_file(tmp_path / "d.csv", "a,b,y,", [a, a, label, lambda i: ""])
    report = tmp_path / "r.json"
    assert main(["compare", "--csv", path, "--target", "y", "--json", str(report),
                 *TINY]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "2 feature columns; dropped, empty in every row: 'Unnamed: 3'" in out
    assert json.loads(report.read_text())["dataset"]["dropped_columns"] == [
        "Unnamed: 3"
    ]


def test_inputs_count_the_one_hot_categories(tmp_path):
    colours = ["red", "green", "blue"]
    path = csv_file(
        tmp_path / "d.csv", "a,colour,b,y", [a, lambda i: colours[i % 3], a, label]
    )
    assert load_csv(path, "y").n_inputs == 2 + 3


# -- resources ----------------------------------------------------------------
@pytest.mark.usefixtures("no_work")
def test_a_network_too_big_for_memory_is_refused_with_its_size(capsys):
    # 10 billion parameters: it passed the per-layer limit, then failed to
    # allocate 74.5 GiB.
    line = usage_error(capsys, ["--hidden", "100000,100000"])
    assert line.startswith("python -m skdrop compare: error: argument --hidden: ")
    assert "10,007,600,010 parameters" in line and "GiB of memory" in line


@pytest.mark.parametrize(
    ("n_jobs", "n_splits", "cores", "expected"),
    [
        (1000, 2, 2, (2, "--n-jobs 1000 capped at 2 (2 outer splits, 2 cores)")),
        (8, 10, 4, (4, "--n-jobs 8 capped at 4 (10 outer splits, 4 cores)")),
        (8, 3, 64, (3, "--n-jobs 8 capped at 3 (3 outer splits, 64 cores)")),
        (2, 10, 4, (2, None)),
        (1, 10, 4, (1, None)),
        (-1, 10, 4, (4, None)),  # all cores, as asked
        (-1, 2, 4, (2, None)),
        (-3, 10, 4, (2, None)),  # joblib: all but two
        (-1024, 10, 4, (1, None)),
    ],
)
def test_workers_are_capped_at_the_splits_and_the_cores(
    monkeypatch, n_jobs, n_splits, cores, expected
):
    monkeypatch.setattr("joblib.cpu_count", lambda: cores)
    assert _workers(n_jobs, n_splits) == expected


def test_the_cap_is_reported_and_used(monkeypatch, capsys):
    seen = {}

    def record(dataset, settings, show_progress=False):
        seen["n_jobs"] = settings.n_jobs
        raise KeyboardInterrupt  # enough: nothing is fitted

    monkeypatch.setattr("joblib.cpu_count", lambda: 2)
    monkeypatch.setattr(_compare, "run_comparison", record)
    argv = ["compare", "--dataset", "iris", "--n-jobs", "1000", "--repeats", "1"]
    assert main(argv) == 130
    assert seen == {"n_jobs": 2}
    err = capsys.readouterr().err
    assert "--n-jobs 1000 capped at 2 (2 outer splits, 2 cores)" in err


@pytest.mark.usefixtures("no_work")
def test_a_one_hot_encoding_too_big_for_memory_names_the_column(
    capsys, tmp_path, monkeypatch
):
    # An identifier column: one category per row, a dense float64 input each.
    path = csv_file(tmp_path / "d.csv", "a,id,y", [a, lambda i: f"id{i}", label])
    monkeypatch.setattr("skdrop._parameters._physical_memory", lambda: 20_000)
    line = usage_error(capsys, ["--csv", path, "--target", "y"])
    assert "column 'id' of" in line and "has 40 distinct values" in line
    assert "41 inputs for 40 rows" in line and "Drop the column" in line
