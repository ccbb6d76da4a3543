"""Text, Markdown, JSON and a figure for ``python -m skdrop compare``."""

import json
from collections import Counter

import numpy as np

from .calibration_report import _calibration_summary, _calibration_tables
from .formatting import (
    DIFFERENCE_COLUMNS,
    _difference_cells,
    _grid,
    _interval_dict,
    _score_cell,
    _signed_interval,
    _table,
    _value,
    _verdict,
)
from .run import METRICS, TIMES, TUNING_SCORE


def build_report(dataset, settings, summary, ratio, seconds, version):
    """Everything the comparison found, as plain JSON-ready data."""
    families = settings.families
    n_splits = settings.repeats * settings.folds
    return {
        "skdrop_version": version,
        "dataset": {
            "name": dataset.name,
            "rows": dataset.n_rows,
            "feature_columns": dataset.n_features,
            "categorical_columns": [str(c) for c in dataset.categorical_columns],
            "dropped_columns": [str(c) for c in dataset.dropped_columns],
            "task": dataset.task,
            "task_reason": dataset.task_reason,
        },
        "settings": {
            "hidden_layer_sizes": list(settings.hidden),
            "max_iter": settings.max_iter,
            "random_state": settings.seed,
            "repeats": settings.repeats,
            "folds": settings.folds,
            "outer_splits": n_splits,
            "test_train_ratio": ratio,
            "inner_folds": settings.inner_folds,
            "n_jobs": settings.n_jobs,
            "n_jobs_requested": settings.n_jobs_requested or settings.n_jobs,
        },
        "search": {
            family.key: {
                "estimator": family.estimator.__name__,
                "param": family.param,
                "grid": list(family.grid),
                "default": family.default,
            }
            for family in families
        }
        | {"tuning_score": TUNING_SCORE[settings.task]},
        **summary,
        "verdict": headline_verdict(summary, settings.task),
        "elapsed_seconds": seconds,
    }


def summarise(results, ratio, settings):
    """Intervals for each model and metric, paired differences, verdicts."""
    metrics = METRICS[settings.task]
    models, per_split = {}, {}
    for kind in ("defaults", "tuned"):
        for family in settings.families:
            parts = [r[family.key] for r in results]
            name = f"{family.label} ({kind})"
            rows = [
                dict(p["outer"][family.default if kind == "defaults" else p["chosen"]])
                for p in parts
            ]
            if kind == "tuned":
                for row, p in zip(rows, parts, strict=True):
                    row["fit_seconds"] = p["search_seconds"]
            per_split[(family.key, kind)] = rows
            keys = [m[0] for m in metrics if m[0] in rows[0]] + [t[0] for t in TIMES]
            models[name] = {
                key: _interval_dict([row[key] for row in rows], ratio) for key in keys
            }
            models[name]["family"] = family.key
            models[name]["setting"] = kind
            models[name]["chosen"] = (
                [p["chosen"] for p in parts] if kind == "tuned" else family.default
            )
    differences = []
    for kind in ("defaults", "tuned"):
        ours, theirs = per_split[("skdrop", kind)], per_split[("sklearn", kind)]
        for key, label, direction in metrics:
            if key not in ours[0] or key not in theirs[0]:
                continue
            values = [a[key] - b[key] for a, b in zip(ours, theirs, strict=True)]
            interval = _interval_dict(values, ratio)
            differences.append(
                {
                    "comparison": kind,
                    "metric": key,
                    "label": label,
                    **interval,
                    "verdict": _verdict(interval, direction),
                }
            )
    calibration = (
        {"calibration": _calibration_summary(results, ratio, settings)}
        if settings.task == "classification"
        else {}
    )
    return {
        "models": models,
        "differences": differences,
        **calibration,
        "candidates": _candidate_curves(results, ratio, settings),
        "blas_threads_per_worker": max(r["blas_threads"] for r in results),
        "max_iter_reached": {
            family.key: [
                sum(r[family.key]["max_iter_reached"][i] for r in results)
                for i in (0, 1)
            ]
            for family in settings.families
        },
        "learned_rates": [
            rates for r in results for rates in r["skdrop"].get("learned_rates", [])
        ],
    }


def _candidate_curves(results, ratio, settings):
    """Test-fold headline score of every candidate value (for the plot)."""
    if not settings.curves:
        return {}
    key = METRICS[settings.task][0][0]
    curves = {}
    for family in settings.families:
        curves[family.key] = {
            "param": family.param,
            "default": family.default,
            "points": [
                {
                    "value": value,
                    **_interval_dict(
                        [r[family.key]["outer"][value][key] for r in results], ratio
                    ),
                }
                for value in family.grid
            ],
        }
    return curves


def headline_verdict(summary, task):
    """One line on the tuned models' headline metric."""
    key, label, _ = METRICS[task][0]
    (row,) = [
        d
        for d in summary["differences"]
        if d["comparison"] == "tuned" and d["metric"] == key
    ]
    finding = {
        "skdrop better": "skdrop is better than scikit-learn's MLP at 95 %",
        "skdrop worse": "skdrop is worse than scikit-learn's MLP at 95 %",
    }.get(row["verdict"], "no detectable difference at 95 %")
    return (
        f"Verdict (both tuned, {label}): {finding} "
        f"(skdrop - sklearn = {_signed_interval(row)})"
    )


def render_text(report):
    """The terminal output: what was run, the scores, the differences."""
    return "\n".join([*_description(report), "", *_tables(report)])


def render_markdown(report):
    """The same content as a Markdown document."""
    lines = [f"# skdrop compare: {report['dataset']['name']}", ""]
    lines += [f"{line}  " for line in _description(report)]
    return "\n".join([*lines, "", *_tables(report), ""])


def write_json(report, stream):
    """The report as JSON on a text stream."""
    json.dump(report, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def _description(report):
    data, settings, search = report["dataset"], report["settings"], report["search"]
    sk, drop = search["sklearn"], search["skdrop"]
    reason = f" ({data['task_reason']})" if data["task_reason"] else ""
    categorical = len(data["categorical_columns"])
    columns = f"{data['feature_columns']} feature columns" + (
        f" ({categorical} categorical, one-hot encoded)" if categorical else ""
    )
    dropped = data.get("dropped_columns")
    if dropped:
        names = ", ".join(map(repr, dropped))
        columns += f"; dropped, empty in every row: {names}"
    return [
        f"Data: {data['name']}, {data['rows']} rows, {columns}; "
        f"{data['task']}{reason}.",
        f"Models: standardised inputs -> {sk['estimator']} / {drop['estimator']}, "
        f"hidden_layer_sizes={tuple(settings['hidden_layer_sizes'])}, "
        f"max_iter={settings['max_iter']}, random_state={settings['random_state']}"
        + (
            ", target standardised per training set"
            if data["task"] == "regression"
            else ""
        )
        + ".",
        f"Defaults: sklearn alpha={sk['default']:g}; skdrop "
        f"dropout_rate={_value(drop['default'])} (and alpha={sk['default']:g}).",
        *_learned_rates_line(report),
        f"Tuned with the same budget: sklearn alpha in {_grid(sk['grid'])}, skdrop "
        f"dropout_rate in {_grid(drop['grid'])}; {len(sk['grid'])} candidates x "
        f"{settings['inner_folds']}-fold CV on each training set, lowest "
        f"{search['tuning_score']} wins.",
        f"Scores: {settings['repeats']} x {settings['folds']}-fold cross-validation "
        f"({settings['outer_splits']} test folds); mean ± half-width of the 95 % "
        f"interval of the corrected resampled t-test (Nadeau & Bengio 2003, "
        f"{settings['outer_splits'] - 1} df). Fit s of a tuned model includes its "
        "search.",
        f"Run: {report['elapsed_seconds']:.1f} s with {settings['n_jobs']} "
        f"worker(s){_capped(settings)}, {report['blas_threads_per_worker']} BLAS "
        "thread(s) each; "
        f"fits stopped by max_iter before converging: {_reached(report, 'sklearn')} "
        f"(sklearn), {_reached(report, 'skdrop')} (skdrop).",
    ]


def _learned_rates_line(report):
    """The rates ``dropout_rate='auto'`` learned, when it was a candidate."""
    rates = np.array(report.get("learned_rates") or [], dtype=float)
    if rates.size == 0:
        return []
    per_layer = ", ".join(
        f"{mean:.3f} [{low:.3f}, {high:.3f}]"
        for mean, low, high in zip(
            rates.mean(axis=0), rates.min(axis=0), rates.max(axis=0), strict=True
        )
    )
    return [
        f"Rates learned by dropout_rate='auto' (per hidden layer, mean [range] "
        f"over its {len(rates)} fits): {per_layer}."
    ]


def _capped(settings):
    requested = settings.get("n_jobs_requested", settings["n_jobs"])
    if requested <= 0 or requested == settings["n_jobs"]:
        return ""
    return f" (--n-jobs {requested} capped)"


def _reached(report, key):
    reached, total = report["max_iter_reached"][key]
    return f"{reached} of {total}"


def _tables(report):
    models = report["models"]
    names = list(models)
    short = [name.replace("sklearn ", "").replace("skdrop ", "") for name in names]
    metric_rows = [
        (label, key) for key, label, _ in METRICS[report["dataset"]["task"]]
    ] + [(label, key) for key, label in TIMES]
    header = ["", *short]
    rows = []
    for label, key in metric_rows:
        rows.append([label, *[_score_cell(models[n], key) for n in names]])
    rows.append(["chosen", *[_chosen(models[n]) for n in names]])
    differences = [
        [d["comparison"], *_difference_cells(d)] for d in report["differences"]
    ]
    return [
        *_table(header, rows),
        "",
        "Paired differences, skdrop - sklearn, on the same test folds:",
        *_table(["setting", *DIFFERENCE_COLUMNS], differences),
        "",
        report["verdict"],
        *_calibration_tables(report),
    ]


def _chosen(model):
    if model["setting"] == "defaults":
        return _value(model["chosen"])
    counts = Counter(model["chosen"]).most_common()
    return ", ".join(f"{_value(value)} ({count}x)" for value, count in counts)
