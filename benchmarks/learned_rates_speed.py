"""Cost of an epoch with learned rates (``dropout_rate='auto'``) against a fixed rate.

The anchor workload of ``benchmarks/speed.py``: a (1024, 1024) ReLU network,
20,000 synthetic 784-feature rows, mini-batches of 200, 10 classes. Every
contender trains ``--epochs`` epochs; the time per epoch is the fit's wall
time divided by its epochs. Contenders run interleaved, ``--repeats`` times,
in fresh processes with default threading and with one pinned BLAS thread.

* scikit-learn ``MLPClassifier`` (no dropout), for scale;
* ``DropoutMLPClassifier(dropout_rate=0.5)``: fixed Bernoulli masks;
* ``DropoutMLPClassifier(dropout_rate='auto')``: relaxed masks whose rates
  train with the network; such a fit also holds out 10 % of the rows and
  scores them every epoch, which is part of what an epoch costs.

Target (issue "dropout that works without tuning"): an 'auto' epoch costs at
most 1.3x a fixed-rate epoch. Results: ``benchmarks/results/learned_rates_speed.md``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "learned_rates_speed.md"
CONTENDERS = {
    "scikit-learn MLPClassifier": "MLPClassifier({common})",
    "skdrop dropout_rate=0.5": "DropoutMLPClassifier(dropout_rate=0.5, {common})",
    "skdrop dropout_rate='auto'": (
        "DropoutMLPClassifier(dropout_rate='auto', {common})"
    ),
}
CHILD = """
import json, time, warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from skdrop import DropoutMLPClassifier
from threadpoolctl import threadpool_info
rng = np.random.default_rng(0)
X = rng.standard_normal(({rows}, 784), dtype=np.float32)
y = (X[:, :10] @ rng.standard_normal(10)).argsort().argsort() * 10 // {rows}
model = {model}
warnings.simplefilter("ignore", ConvergenceWarning)
start = time.perf_counter()
model.fit(X, y)
seconds = time.perf_counter() - start
blas = [(p["internal_api"], p.get("version"), p["num_threads"])
        for p in threadpool_info() if p["user_api"] == "blas"]
print(json.dumps({{"per_epoch": seconds / model.n_iter_, "blas": blas}}))
"""


def run(model, rows, epochs, pinned):
    common = (
        f"hidden_layer_sizes=(1024, 1024), solver='adam', max_iter={epochs}, "
        "n_iter_no_change=10**9, random_state=0"
    )
    code = CHILD.format(rows=rows, model=model.format(common=common))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    }
    if pinned:
        env["OPENBLAS_NUM_THREADS"] = "1"
    output = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args(argv)
    lines = [
        "# Learned rates: cost of an epoch",
        "",
        "Written by `python benchmarks/learned_rates_speed.py`: the anchor "
        f"workload of `speed.py` ({args.rows:,} rows x 784 float32 features, "
        "(1024, 1024) ReLU, Adam, batches of 200), "
        f"{args.epochs} epochs per fit, median [min-max] of {args.repeats} "
        "interleaved fresh-process runs.",
        "",
        "| threads | " + " | ".join(CONTENDERS) + " | 'auto' / 0.5 |",
        "|---|" + "---|" * (len(CONTENDERS) + 1),
    ]
    blas = None
    for pinned in (False, True):
        times = {name: [] for name in CONTENDERS}
        for _ in range(args.repeats):
            for name, model in CONTENDERS.items():
                print(f"{name}, pinned={pinned}", file=sys.stderr)
                result = run(model, args.rows, args.epochs, pinned)
                times[name].append(result["per_epoch"])
                if not pinned:
                    blas = result["blas"]
        medians = {name: statistics.median(t) for name, t in times.items()}
        cells = [
            f"{medians[name]:.2f} s [{min(t):.2f}-{max(t):.2f}]"
            for name, t in times.items()
        ]
        ratio = (
            medians["skdrop dropout_rate='auto'"] / medians["skdrop dropout_rate=0.5"]
        )
        label = "one (pinned)" if pinned else "default"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio:.2f}x |")
    lines += ["", f"BLAS (library, version, threads at default): {blas}.", ""]
    report = "\n".join(lines)
    print(report)
    Path(args.output).write_text(report)


if __name__ == "__main__":
    main()
