"""scikit-learn's experimental callbacks: one task per fit, one sub-task per epoch."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

import skdrop
from skdrop import DropoutMLPClassifier, DropoutMLPRegressor

callback = pytest.importorskip("sklearn.callback")


class Recorder:
    """Records every hook call as (hook, task_name, task_id, max_subtasks)."""

    def __init__(self, stop_after=None, fail_after=None):
        self.calls = []
        self.stop_after = stop_after
        self.fail_after = fail_after

    def setup(self, estimator, context):
        self.calls.append(("setup", context.task_name, None, None))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.task_name, None, None))

    def on_fit_task_begin(self, estimator, context):
        self.calls.append(
            ("begin", context.task_name, context.task_id, context.max_subtasks)
        )

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.calls.append(
            ("end", context.task_name, context.task_id, context.max_subtasks)
        )
        epochs = self.ended("epoch")
        if self.fail_after is not None and epochs == self.fail_after:
            raise RuntimeError("callback failure")
        return self.stop_after is not None and epochs >= self.stop_after

    def ended(self, task_name):
        return sum(1 for c in self.calls if c[0] == "end" and c[1] == task_name)


def _classifier(**params):
    params = {
        "hidden_layer_sizes": (8,),
        "max_iter": 6,
        "learning_rate_init": 0.02,
        "random_state": 0,
        "dropout_rate": 0.2,
        **params,
    }
    return DropoutMLPClassifier(**params)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_one_task_per_epoch(binary):
    X, y = binary
    recorder = Recorder()
    model = _classifier().set_callbacks(recorder).fit(X, y)
    assert recorder.calls[0] == ("setup", "fit", None, None)
    assert recorder.calls[1] == ("begin", "fit", 0, model.max_iter)
    epochs = [c for c in recorder.calls if c[1] == "epoch"]
    expected = []
    for epoch in range(model.n_iter_):
        expected += [("begin", "epoch", epoch, 0), ("end", "epoch", epoch, 0)]
    assert epochs == expected
    assert recorder.calls[-2:] == [
        ("end", "fit", 0, model.max_iter),
        ("teardown", "fit", None, None),
    ]
    assert not hasattr(model, "_callback_fit_ctx")


def test_partial_fit_is_one_epoch(binary):
    X, y = binary
    recorder = Recorder()
    model = _classifier().set_callbacks(recorder)
    model.partial_fit(X, y, classes=[0, 1])
    model.partial_fit(X, y)
    assert recorder.ended("epoch") == 2
    assert recorder.ended("fit") == 2
    assert ("begin", "fit", 0, 1) in recorder.calls


def test_a_callback_can_stop_training(binary):
    X, y = binary
    recorder = Recorder(stop_after=3)
    model = _classifier(max_iter=50).set_callbacks(recorder).fit(X, y)
    assert model.n_iter_ == 3
    assert len(model.loss_curve_) == 3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_callbacks_do_not_change_the_model(binary):
    X, y = binary
    plain = _classifier().fit(X, y)
    watched = _classifier().set_callbacks(Recorder()).fit(X, y)
    for a, b in zip(plain.coefs_, watched.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_failing_callback_restores_and_tears_down(binary):
    X, y = binary
    model = _classifier().fit(X, y)
    before = [c.copy() for c in model.coefs_]
    recorder = Recorder(fail_after=2)
    model.set_callbacks(recorder)
    with pytest.raises(RuntimeError, match="callback failure"):
        model.fit(X, y)
    assert recorder.calls[-1] == ("teardown", "fit", None, None)
    assert not hasattr(model, "_callback_fit_ctx")
    for a, b in zip(before, model.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scoring_monitor_scores_every_epoch(binary):
    pytest.importorskip("pandas")
    X, y = binary
    monitor = callback.ScoringMonitor(scoring="accuracy")
    model = _classifier(max_iter=8).set_callbacks(monitor).fit(X, y)
    log = monitor.get_logs().data_as_pandas
    epochs = log[log["task_name"] == "epoch"]
    assert len(epochs) == model.n_iter_
    # The scored model of each epoch is the network as it was then: the
    # last epoch's is the final model, and training changed the scores.
    assert epochs["accuracy"].iloc[-1] == pytest.approx(model.score(X, y))
    assert epochs["accuracy"].nunique() > 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scoring_monitor_regressor():
    pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = rng.standard_normal((100, 3))
    y = X @ [1.0, 2.0, -1.0]
    monitor = callback.ScoringMonitor(scoring="r2")
    model = DropoutMLPRegressor(
        hidden_layer_sizes=(8,), max_iter=5, learning_rate_init=0.05, random_state=0
    )
    model.set_callbacks(monitor).fit(X, y)
    log = monitor.get_logs().data_as_pandas
    assert log[log["task_name"] == "epoch"]["r2"].iloc[-1] == pytest.approx(
        model.score(X, y)
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_regressor_reports_only_its_own_fit():
    """Internal fits (the regressor's noise estimate) are not reported."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((100, 3))
    recorder = Recorder()
    model = DropoutMLPRegressor(hidden_layer_sizes=(8,), max_iter=4, random_state=0)
    model.set_callbacks(recorder).fit(X, X.sum(axis=1))
    assert [c[0] for c in recorder.calls].count("setup") == 1
    assert recorder.ended("fit") == 1
    assert recorder.ended("epoch") == model.n_iter_


def test_progress_bar_during_fit(capsys, binary):
    pytest.importorskip("rich")
    X, y = binary
    model = _classifier(max_iter=3).set_callbacks(callback.ProgressBar())
    with pytest.warns(Warning):  # ConvergenceWarning: 3 epochs are few
        model.fit(X, y)
    out = capsys.readouterr()
    assert "DropoutMLPClassifier - fit" in out.out + out.err
    assert not hasattr(model, "_callback_fit_ctx")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_progress_bar_inside_grid_search(capsys, binary):
    pytest.importorskip("rich")
    X, y = binary
    grid = {"dropout_rate": [0.1, 0.3]}
    plain = GridSearchCV(_classifier(max_iter=4), grid, cv=2).fit(X, y)
    search = GridSearchCV(_classifier(max_iter=4), grid, cv=2)
    search.set_callbacks(callback.ProgressBar()).fit(X, y)
    out = capsys.readouterr()
    assert "DropoutMLPClassifier - fit" in out.out + out.err
    assert search.best_params_ == plain.best_params_
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sub_estimator_callback_inside_grid_search(binary):
    X, y = binary
    recorder = Recorder()
    estimator = _classifier(max_iter=4).set_callbacks(recorder)
    GridSearchCV(estimator, {"dropout_rate": [0.1, 0.3]}, cv=2).fit(X, y)
    # Four cross-validation fits and the refit, each of at most 4 epochs.
    assert recorder.ended("fit") == 5
    assert 5 <= recorder.ended("epoch") <= 20


def test_without_sklearn_callback(monkeypatch):
    """The fallback when scikit-learn has no callback API: fitting still works."""
    monkeypatch.setitem(sys.modules, "sklearn.callback", None)
    path = Path(skdrop.__file__).parent / "_callbacks.py"
    spec = importlib.util.spec_from_file_location("_callbacks_fallback", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not hasattr(module.CallbackSupportMixin, "set_callbacks")

    class Bare:
        coefs_, intercepts_ = [np.zeros((2, 2))], [np.zeros(2)]

    progress = module.FitProgress(Bare(), None, None, None, max_epochs=3)
    progress.epoch_begin()
    assert progress.epoch_end() is False
    progress.fit_end()


class CopyPredictor:
    """Predicts with return_std from every copy a callback is handed."""

    def __init__(self, X):
        self.X = X
        self.stds = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.stds.append(fitted_estimator.predict(self.X, return_std=True)[1])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_copies_taken_during_fit_predict_with_std(binary):
    X, y = binary
    watcher = CopyPredictor(X[:3])
    model = DropoutMLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    model.set_callbacks(watcher).fit(X, y.astype(float))
    assert len(watcher.stds) == model.n_iter_ + 1  # every epoch, then the fit
    assert all(np.isfinite(std).all() and (std > 0).all() for std in watcher.stds)
    np.testing.assert_array_equal(
        watcher.stds[-1], model.predict(X[:3], return_std=True)[1]
    )
