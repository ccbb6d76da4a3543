"""class_weight='balanced' on an imbalanced problem: balanced accuracy.

make_classification with class weights 0.95 / 0.05 (2,000 rows, 20 features,
5 informative, 1 % flipped labels), half for training (stratified), half held
out; one data set per seed. DropoutMLPClassifier with its defaults (and
max_iter as listed), without and with class_weight='balanced', and
scikit-learn's MLPClassifier (which has no class_weight) for reference.

    python benchmarks/class_weight.py            # about 10 s on 2 cores
"""

import time
import warnings

import _common
import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from skdrop import DropoutMLPClassifier

MAX_ITERS = (50, 200)


def _data(seed):
    X, y = make_classification(
        n_samples=2000,
        n_features=20,
        n_informative=5,
        weights=[0.95, 0.05],
        flip_y=0.01,
        random_state=seed,
    )
    return train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)


def _scores(seed, max_iter):
    X_train, X_test, y_train, y_test = _data(seed)
    models = {
        "skdrop, class_weight=None": DropoutMLPClassifier(max_iter=max_iter),
        "skdrop, class_weight='balanced'": DropoutMLPClassifier(
            max_iter=max_iter, class_weight="balanced"
        ),
        "MLPClassifier": MLPClassifier(max_iter=max_iter),
    }
    scores = {}
    for name, model in models.items():
        model.set_params(random_state=0).fit(X_train, y_train)
        scores[name] = balanced_accuracy_score(y_test, model.predict(X_test))
    return scores


def main():
    args = _common.parse_benchmark_args(
        __doc__, "class_weight", "two seeds instead of five"
    )
    start = time.perf_counter()
    lines = [
        "## class_weight='balanced' on a 95 % / 5 % problem",
        "",
        "make_classification(n_samples=2000, n_features=20, n_informative=5, "
        "weights=[0.95, 0.05], flip_y=0.01, random_state=seed), half held out "
        f"(stratified); {args.seeds} data seeds, model random_state=0, default "
        "parameters otherwise. Balanced accuracy on the held-out half, mean ± "
        "standard error over seeds; gain = balanced minus None, paired by seed.",
        "",
        "| max_iter | model | balanced accuracy | per seed |",
        "|---|---|---|---|",
    ]
    warnings.simplefilter("ignore", ConvergenceWarning)
    for max_iter in MAX_ITERS:
        runs = [_scores(seed, max_iter) for seed in range(args.seeds)]
        names = list(runs[0])
        for name in names:
            values = np.array([run[name] for run in runs])
            lines.append(
                f"| {max_iter} | {name} | {_mean_se(values)} | "
                + ", ".join(f"{v:.3f}" for v in values)
                + " |"
            )
        gain = np.array([run[names[1]] - run[names[0]] for run in runs])
        lines.append(
            f"| {max_iter} | gain of 'balanced' (points) | "
            f"{_mean_se(100 * gain, digits=1)} | "
            + ", ".join(f"{100 * g:+.1f}" for g in gain)
            + " |"
        )
    lines += ["", f"Total time: {time.perf_counter() - start:.0f} s."]
    report = "\n".join(lines) + "\n"
    print(report)
    args.output.write_text(report)


def _mean_se(values, digits=3):
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
    return f"{values.mean():.{digits}f} ± {se:.{digits}f}"


if __name__ == "__main__":
    main()
