"""DropoutMLPClassifier: targets of every kind, classes, probabilities.

That predict uses the whole network without masks: test_prediction.py."""

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.metrics import accuracy_score, log_loss

from skdrop import DropoutMLPClassifier


def test_binary_problem_has_one_logistic_output_and_two_probability_columns():
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    clf = DropoutMLPClassifier(max_iter=50, random_state=0).fit(X, y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), proba.argmax(axis=1))


def test_multiclass_uses_softmax(classification):
    X, y = classification
    clf = DropoutMLPClassifier(max_iter=50, random_state=0).fit(X, y)
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    # Chance is 0.33; seeds 0-5 all reach 0.85-0.87 on these data.
    assert clf.score(X, y) > 0.8


def test_string_labels_round_trip(classification):
    X, y = classification
    names = np.array(["cat", "dog", "emu"])[y]
    clf = DropoutMLPClassifier(max_iter=30, random_state=0).fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog", "emu"])
    assert set(clf.predict(X)) <= {"cat", "dog", "emu"}


def test_multilabel_indicator_targets():
    X, Y = make_multilabel_classification(n_samples=150, n_classes=4, random_state=0)
    clf = DropoutMLPClassifier(max_iter=100, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 4
    assert clf.predict(X).shape == Y.shape
    assert clf.predict_proba(X).shape == Y.shape
    assert clf.score(X, Y) > 0.3  # subset accuracy


def test_predict_log_proba_is_the_log_of_predict_proba(classification):
    X, y = classification
    clf = DropoutMLPClassifier(max_iter=20, random_state=0).fit(X, y)
    np.testing.assert_allclose(
        clf.predict_log_proba(X), np.log(clf.predict_proba(X)), rtol=1e-8
    )


def test_predict_log_proba_stays_finite_for_extreme_logits():
    X, y = make_classification(n_samples=50, n_features=4, random_state=0)
    clf = DropoutMLPClassifier(hidden_layer_sizes=(3,), max_iter=2).fit(X, y)
    clf.coefs_[1][...] = 1e4
    log_proba = clf.predict_log_proba(X)
    assert np.isfinite(log_proba).all()
    assert np.isfinite(clf.predict_proba(X)).all()


def test_dropout_generalises_better_than_no_dropout_on_an_overfitting_problem():
    """A wide network on few noisy samples, trained for the same number of
    epochs with and without dropout: dropout lowers held-out log loss."""
    X, y = make_classification(
        n_samples=600, n_features=40, n_informative=8, flip_y=0.1, random_state=0
    )
    X_train, X_test, y_train, y_test = X[:150], X[150:], y[:150], y[150:]
    # Log losses 0.455 (no dropout) and 0.406 (dropout); (512,) and 200
    # epochs gave 0.610 and 0.558 in twice the time.
    kwargs = dict(
        hidden_layer_sizes=(256,),
        alpha=0.0,
        max_iter=100,
        n_iter_no_change=np.inf,
        random_state=0,
    )
    losses = {
        rate: log_loss(
            y_test,
            DropoutMLPClassifier(dropout_rate=rate, **kwargs)
            .fit(X_train, y_train)
            .predict_proba(X_test),
        )
        for rate in (0.0, 0.5)
    }
    assert losses[0.5] < losses[0.0]


def test_warm_start_refuses_new_classes(classification):
    X, y = classification
    clf = DropoutMLPClassifier(max_iter=1, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[y < 2], y[y < 2])


def test_partial_fit_needs_classes_first_and_rejects_unknown_ones(classification):
    X, y = classification
    clf = DropoutMLPClassifier()
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match="not in"):
        clf.partial_fit(X, y)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_validation_accuracy_is_scikit_learns(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    if kind == "binary":
        y = (X[:, 0] > 0).astype(int)
    elif kind == "multiclass":
        y = np.digitize(X[:, 0], [-0.5, 0.5])
    else:
        y = (X[:, :3] > 0).astype(int)
    clf = DropoutMLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    clf.fit(X, y)
    weights = rng.uniform(0.1, 2, size=60)
    encoded = clf._label_binarizer.transform(y)
    output = clf._forward(X)
    assert clf._score_output(output, encoded, weights) == pytest.approx(
        accuracy_score(y, clf.predict(X), sample_weight=weights)
    )
