"""Order of the examples in the gallery.

Sphinx-Gallery takes the sort key as a dotted name (``conf.py`` puts this
folder on ``sys.path``), which keeps the configuration picklable.
"""

EXAMPLE_ORDER = [
    "plot_pipeline_swap.py",
    "plot_validation_curve.py",
    "plot_loss_curves.py",
    "plot_convergence_under_dropout.py",
    "plot_mc_dropout_regression.py",
    "plot_conformal_intervals.py",
    "plot_partial_fit_streaming.py",
]


class StoryOrder:
    """Sort key: the examples in the order they build on each other, any
    other script after them by file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in EXAMPLE_ORDER:
            return (EXAMPLE_ORDER.index(filename), filename)
        return (len(EXAMPLE_ORDER), filename)

    def __repr__(self):
        return "StoryOrder"
