"""The figure of ``python -m skdrop compare --plot``.

The test-fold headline score of every candidate, for both searches side by
side, drawn from the report's ``candidates``. matplotlib is imported only
when a plot is drawn: the rest of the comparison does without it.
"""

from .run import METRICS


def draw_plot(report, stream, image_format="png"):
    """Test-fold headline score against each tuned parameter, side by side.

    Drawn on a bare ``Figure``: pyplot would choose (or, with
    ``matplotlib.use``, switch) the process's backend and keep the figure
    in its registry.
    """
    from matplotlib.figure import Figure

    task = report["dataset"]["task"]
    _, label, _ = METRICS[task][0]
    settings = report["settings"]
    fig = Figure(figsize=(10, 4.4))
    axes = fig.subplots(1, 2, sharey=True)
    panels = [("skdrop", "dropout_rate", "C1"), ("sklearn", "alpha", "C0")]
    for ax, (key, param, colour) in zip(axes, panels, strict=True):
        curve = report["candidates"][key]
        # Learned rates ('auto') have no place on a numeric axis.
        points = [p for p in curve["points"] if not isinstance(p["value"], str)]
        curve = dict(curve, points=points)
        values = [p["value"] for p in curve["points"]]
        means = [p["mean"] for p in curve["points"]]
        ax.fill_between(
            values,
            [p["low"] for p in curve["points"]],
            [p["high"] for p in curve["points"]],
            color=colour,
            alpha=0.25,
            label="95 % CI (corrected t)",
        )
        ax.plot(values, means, "o-", color=colour, label="mean over test folds")
        if curve["default"] in values:
            index = values.index(curve["default"])
            ax.plot(
                values[index],
                means[index],
                "k*",
                markersize=12,
                label=f"default {param}={curve['default']:g}",
            )
        if param == "alpha":
            if min(values) > 0:
                ax.set_xscale("log")
            else:
                positive = [v for v in values if v > 0] or [1.0]
                ax.set_xscale("symlog", linthresh=min(positive))
            ax.set_title(
                f"{report['search']['sklearn']['estimator']}: {label} against alpha"
            )
        else:
            ax.set_title(
                f"{report['search']['skdrop']['estimator']}: {label} "
                "against dropout_rate"
            )
        ax.set_xlabel(param)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    axes[0].set_ylabel(f"{label} on the outer test folds")
    fig.suptitle(
        f"{report['dataset']['name']}: {label} of each candidate, fitted on the "
        f"training folds without tuning;\nmean over {settings['outer_splits']} "
        f"test folds ({settings['repeats']} x {settings['folds']}-fold CV), "
        "band = 95 % interval of the corrected resampled t-test",
        fontsize="medium",
    )
    fig.tight_layout()
    fig.savefig(stream, dpi=120, format=image_format)
