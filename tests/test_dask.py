"""Grid search on a dask cluster finds what a serial search finds.

The cluster is a real one, in miniature: two worker processes on the
loopback interface, each fitting its share of the candidates.
"""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold

from skdrop import DropoutMLPClassifier

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    # distributed warns about ports and cleanup on shared test machines.
    "ignore::UserWarning:distributed",
    "ignore::DeprecationWarning",
)


def _search():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 6))
    y = (X[:, 0] + X[:, 1] ** 2 - 1 > 0).astype(int)
    estimator = DropoutMLPClassifier(
        hidden_layer_sizes=(16,),
        max_iter=25,
        learning_rate_init=0.01,
        random_state=0,
    )
    grid = {"dropout_rate": [0.0, 0.2, 0.5, 0.8]}
    search = GridSearchCV(estimator, grid, cv=KFold(3), n_jobs=-1)
    return search, X, y


def test_grid_search_on_local_cluster(tmp_path):
    serial, X, y = _search()
    serial.set_params(n_jobs=1).fit(X, y)

    distributed_search, _, _ = _search()
    with (
        distributed.LocalCluster(
            host="127.0.0.1",
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            local_directory=tmp_path,
            # Each worker pins its BLAS to one thread, as in production.
            env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_backend("dask"),
    ):
        with distributed.get_task_stream(client) as tasks:
            distributed_search.fit(X, y)
        workers = set(client.scheduler_info()["workers"])
    # The fits really ran on the cluster's workers, not in this process.
    assert len(workers) == 2
    assert tasks.data
    assert {task["worker"] for task in tasks.data} <= workers

    assert distributed_search.best_params_ == serial.best_params_
    for key in ("mean_test_score", "std_test_score", "split0_test_score"):
        np.testing.assert_array_equal(
            distributed_search.cv_results_[key], serial.cv_results_[key]
        )
    # The scores differ between candidates, so the comparison means something.
    assert len(set(serial.cv_results_["mean_test_score"])) > 1
    np.testing.assert_array_equal(distributed_search.predict(X), serial.predict(X))
