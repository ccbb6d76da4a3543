"""The calibration part of the compare report: temperature-scaled and Monte
Carlo averaged probabilities, their paired differences and verdict."""

from .formatting import (
    DIFFERENCE_COLUMNS,
    _difference_cells,
    _interval_dict,
    _score_cell,
    _signed_interval,
    _table,
    _verdict,
)
from .run import METRICS, PROBABILITY_VARIANTS

# Scores of the probability variants, and their labels in the report.
VARIANT_SCORES = (
    ("accuracy", "accuracy"),
    ("log_loss", "log loss"),
    ("brier", "Brier score"),
    ("ece", "ECE"),
    ("temperature", "temperature"),
)


_VARIANT_NAMES = {"ts_": "plain", "mc_ts_": "Monte Carlo averaged"}


def _calibration_summary(results, ratio, settings):
    """Temperature-scaled and Monte Carlo averaged probabilities: intervals,
    and paired differences from scikit-learn's temperature-scaled MLP."""
    models, differences = {}, []
    for kind in ("defaults", "tuned"):
        variants = {}
        for family in settings.families:
            rows = [
                r[family.key]["outer"][
                    family.default if kind == "defaults" else r[family.key]["chosen"]
                ]
                for r in results
            ]
            for prefix, label, families in PROBABILITY_VARIANTS:
                if family.key not in families:
                    continue
                variants[family.key, prefix] = rows
                models[f"{family.label} ({kind}), {label}"] = {
                    key: _interval_dict([row[prefix + key] for row in rows], ratio)
                    for key, _ in VARIANT_SCORES
                    if prefix + key in rows[0]
                } | {"family": family.key, "setting": kind, "variant": prefix}
        reference = variants["sklearn", "ts_"]
        for prefix in ("ts_", "mc_ts_"):
            ours = variants["skdrop", prefix]
            for key, label, direction in METRICS["classification"][1:]:
                values = [
                    a[prefix + key] - b["ts_" + key]
                    for a, b in zip(ours, reference, strict=True)
                ]
                interval = _interval_dict(values, ratio)
                differences.append(
                    {
                        "comparison": kind,
                        "skdrop_probabilities": prefix,
                        "metric": key,
                        "label": label,
                        **interval,
                        "verdict": _verdict(interval, direction),
                    }
                )
    return {
        "models": models,
        "differences": differences,
        "verdict": _calibration_verdict(differences),
    }


def _calibration_verdict(differences):
    """One line on the tuned models' log loss after temperature scaling."""
    findings = []
    for prefix, label in _VARIANT_NAMES.items():
        (row,) = [
            d
            for d in differences
            if d["comparison"] == "tuned"
            and d["metric"] == "log_loss"
            and d["skdrop_probabilities"] == prefix
        ]
        finding = {
            "skdrop better": "better calibrated than",
            "skdrop worse": "worse calibrated than",
        }.get(row["verdict"], "no detectable difference from")
        findings.append(
            f"skdrop's {label} probabilities: {finding} scikit-learn's "
            f"(log loss difference {_signed_interval(row)})"
        )
    return (
        "Calibration verdict (both tuned, both temperature-scaled, log loss at "
        "95 %): " + "; ".join(findings)
    )


def _calibration_tables(report):
    """The temperature-scaled and Monte Carlo averaged scores, if any."""
    calibration = report.get("calibration")
    if not calibration:
        return []
    rows = []
    for name, model in calibration["models"].items():
        short = name.replace("sklearn ", "").replace("skdrop ", "")
        rows.append([short, *[_score_cell(model, key) for key, _ in VARIANT_SCORES]])
    differences = [
        [
            d["comparison"],
            _VARIANT_NAMES[d["skdrop_probabilities"]],
            *_difference_cells(d),
        ]
        for d in calibration["differences"]
    ]
    return [
        "",
        "After temperature scaling: scikit-learn's CalibratedClassifierCV("
        "method='temperature') fitted on the out-of-fold probabilities of the "
        "inner folds of each training set, applied to the test fold (temperature "
        "above 1: the model was overconfident). Monte Carlo averaged: the mean "
        "of 30 passes with dropout on.",
        *_table(["", *(label for _, label in VARIANT_SCORES)], rows),
        "",
        "Paired differences after temperature scaling, skdrop - sklearn (both "
        "temperature-scaled), on the same test folds:",
        *_table(["setting", "skdrop probabilities", *DIFFERENCE_COLUMNS], differences),
        "",
        calibration["verdict"],
    ]
