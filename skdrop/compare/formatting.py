"""Numbers and tables of the compare report: intervals, verdicts, cells."""

from .stats import corrected_interval


def _interval_dict(values, ratio):
    interval = corrected_interval(values, ratio)
    return {
        "mean": interval.mean,
        "low": interval.low,
        "high": interval.high,
        "p_value": interval.p_value,
        "per_split": [float(v) for v in values],
    }


def _verdict(interval, direction):
    if direction == 0 or interval["low"] <= 0 <= interval["high"]:
        return "no detectable difference at 95 %"
    higher = interval["low"] > 0
    return "skdrop better" if higher == (direction > 0) else "skdrop worse"


def _table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        padded = (str(c).ljust(w) for c, w in zip(cells, widths, strict=True))
        return "| " + " | ".join(padded) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [
        line(r) for r in rows
    ]


def _value(value):
    """A candidate value: a number, or ``'auto'`` for learned rates."""
    return value if isinstance(value, str) else f"{value:g}"


def _grid(values):
    return "{" + ", ".join(_value(v) for v in values) + "}"


def _score_cell(scores, key):
    """``scores[key]`` as mean ± half-width, or ``'-'`` where it was not measured."""
    return _plus_minus(scores[key]) if key in scores else "-"


def _plus_minus(interval):
    half = interval["high"] - interval["mean"]
    digits = 3 if abs(interval["mean"]) < 100 else 1
    return f"{interval['mean']:.{digits}f} ± {half:.{digits}f}"


def _signed_interval(interval):
    return f"{interval['mean']:+.4f} [{interval['low']:+.4f}, {interval['high']:+.4f}]"


# The columns of a table of paired differences after those saying what was
# compared; ``_difference_cells`` fills them.
DIFFERENCE_COLUMNS = ["metric", "difference [95 % CI]", "p", "verdict"]


def _difference_cells(difference):
    return [
        difference["label"],
        _signed_interval(difference),
        f"{difference['p_value']:.3f}",
        difference["verdict"],
    ]
