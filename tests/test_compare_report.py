"""The pieces of ``python -m skdrop compare``'s report (skdrop/compare/report.py):
verdicts, intervals, tables and values as the report prints them.

Whole reports, from a run on a CSV: test_compare.py.
"""

import io
import json

import pytest

from skdrop.compare import formatting, report
from skdrop.compare.stats import corrected_interval


def _interval(low, high):
    return {"mean": (low + high) / 2, "low": low, "high": high}


@pytest.mark.parametrize(
    "low, high, direction, verdict",
    [
        (-0.1, 0.2, 1, "no detectable difference at 95 %"),
        (0.0, 0.2, 1, "no detectable difference at 95 %"),  # 0 is inside
        (0.1, 0.2, 1, "skdrop better"),
        (-0.2, -0.1, 1, "skdrop worse"),
        # Lower is better (a loss): a positive difference is worse.
        (0.1, 0.2, -1, "skdrop worse"),
        (-0.2, -0.1, -1, "skdrop better"),
        # No direction (coverage should be near its target): never a winner.
        (0.1, 0.2, 0, "no detectable difference at 95 %"),
    ],
)
def test_verdict_follows_the_metrics_direction(low, high, direction, verdict):
    assert report._verdict(_interval(low, high), direction) == verdict


@pytest.mark.parametrize(
    "task, metric, label",
    [("classification", "accuracy", "accuracy"), ("regression", "r2", "R²")],
)
def test_headline_verdict_reads_the_tuned_headline_metric(task, metric, label):
    differences = [
        {"comparison": "defaults", "metric": metric, "verdict": "skdrop worse"},
        {
            "comparison": "tuned",
            "metric": metric,
            "verdict": "skdrop better",
            **_interval(0.01, 0.03),
        },
        {"comparison": "tuned", "metric": "other", "verdict": "skdrop worse"},
    ]
    line = report.headline_verdict({"differences": differences}, task)
    assert line.startswith(f"Verdict (both tuned, {label}): skdrop is better")
    assert "+0.0200 [+0.0100, +0.0300]" in line


def test_interval_dict_is_the_corrected_interval_with_the_splits():
    values = [0.8, 0.85, 0.9, 0.82]
    interval = corrected_interval(values, 0.25)
    result = report._interval_dict(values, 0.25)
    assert result["mean"] == interval.mean
    assert (result["low"], result["high"]) == (interval.low, interval.high)
    assert result["p_value"] == interval.p_value
    assert result["per_split"] == values


def test_table_pads_every_column_to_its_widest_cell():
    lines = report._table(["model", "score"], [["skdrop", 0.9], ["a", "0.85 ± 0.1"]])
    assert lines == [
        "| model  | score      |",
        "|--------|------------|",
        "| skdrop | 0.9        |",
        "| a      | 0.85 ± 0.1 |",
    ]


def test_candidate_values_print_numbers_compactly_and_auto_as_is():
    assert report._value(0.5) == "0.5"
    assert report._value(1e-4) == "0.0001"
    assert report._value("auto") == "auto"
    assert report._grid([0.0, 0.25, "auto"]) == "{0, 0.25, auto}"


def test_chosen_values_are_counted_most_common_first():
    tuned = {"setting": "tuned", "chosen": [0.1, 0.5, 0.5, "auto"]}
    assert report._chosen(tuned) == "0.5 (2x), 0.1 (1x), auto (1x)"
    assert report._chosen({"setting": "defaults", "chosen": 0.3}) == "0.3"


def test_plus_minus_keeps_fewer_digits_for_large_values():
    assert formatting._plus_minus(_interval(0.8, 0.9)) == "0.850 ± 0.050"
    assert formatting._plus_minus(_interval(1000.0, 1200.0)) == "1100.0 ± 100.0"


def test_json_keeps_non_ascii_text_and_ends_the_line():
    stream = io.StringIO()
    report.write_json({"label": "R²", "value": 0.5}, stream)
    text = stream.getvalue()
    assert "R²" in text and text.endswith("}\n")
    assert json.loads(text) == {"label": "R²", "value": 0.5}
