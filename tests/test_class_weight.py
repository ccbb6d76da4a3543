"""``class_weight`` of DropoutMLPClassifier: the weights it gives the rows,
its combination with ``sample_weight``, partial_fit, multilabel targets,
the errors, and the gain on an imbalanced problem.

scikit-learn's own class-weight check (check_class_weight_classifiers) runs
in test_sklearn_compat.py, enabled by the parameter's presence."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

from skdrop import DropoutMLPClassifier

FAST = {"hidden_layer_sizes": (8,), "max_iter": 5, "random_state": 0}


def _same_weights(a, b):
    pairs = zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True)
    for first, second in pairs:
        np.testing.assert_allclose(first, second, rtol=1e-10, atol=1e-12)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)
        yield


def test_parameter_is_stored_unchanged_and_default_is_none():
    weights = {0: 2.0}
    clf = DropoutMLPClassifier(class_weight=weights)
    assert clf.class_weight is weights
    assert DropoutMLPClassifier().class_weight is None


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_balanced_is_the_same_fit_as_balanced_sample_weights(classification, solver):
    X, y = classification
    y = np.where(y == 2, 0, y)  # classes of 200 and 100 rows
    params = {**FAST, "solver": solver, "dropout_rate": 0.0}
    ours = DropoutMLPClassifier(class_weight="balanced", **params).fit(X, y)
    reference = DropoutMLPClassifier(**params).fit(
        X, y, sample_weight=compute_sample_weight("balanced", y)
    )
    _same_weights(ours, reference)
    unweighted = DropoutMLPClassifier(**params).fit(X, y)
    assert not np.allclose(ours.coefs_[0], unweighted.coefs_[0])


def test_class_weight_multiplies_sample_weight_as_in_logistic_regression(
    classification,
):
    """'balanced' counts the sample weights, then multiplies them."""
    X, y = classification
    sample_weight = np.random.RandomState(0).uniform(0.1, 3.0, len(y))
    ours = DropoutMLPClassifier(class_weight="balanced", **FAST).fit(
        X, y, sample_weight=sample_weight
    )
    per_class = compute_class_weight(
        "balanced", classes=np.unique(y), y=y, sample_weight=sample_weight
    )
    reference = DropoutMLPClassifier(**FAST).fit(
        X, y, sample_weight=per_class[y] * sample_weight
    )
    _same_weights(ours, reference)


def test_dict_weights_string_labels_and_absent_keys_weigh_one(classification):
    X, y = classification
    names = np.array(["cat", "dog", "emu"])[y]
    ours = DropoutMLPClassifier(class_weight={"emu": 4.0, "cat": 0.5}, **FAST)
    ours.fit(X, names)
    row_weights = np.array([0.5, 1.0, 4.0])[y]
    reference = DropoutMLPClassifier(**FAST).fit(X, names, sample_weight=row_weights)
    _same_weights(ours, reference)


def test_early_stopping_score_is_weighted_by_class():
    """A class of weight 0 does not count in the validation accuracy."""
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    params = {**FAST, "early_stopping": True, "max_iter": 3}
    ours = DropoutMLPClassifier(class_weight={1: 0.0}, **params).fit(X, y)
    reference = DropoutMLPClassifier(**params).fit(
        X, y, sample_weight=(y == 0).astype(float)
    )
    assert ours.validation_scores_ == reference.validation_scores_
    _same_weights(ours, reference)


def test_partial_fit_takes_a_dict_and_refuses_balanced(classification):
    X, y = classification
    weights = {0: 3.0, 2: 0.25}
    ours = DropoutMLPClassifier(class_weight=weights, **FAST)
    reference = DropoutMLPClassifier(**FAST)
    for rows in (slice(0, 150), slice(150, None)):
        # The second batch may lack a class: the dict is matched to classes_.
        ours.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        row_weights = np.array([3.0, 1.0, 0.25])[y[rows]]
        reference.partial_fit(
            X[rows], y[rows], classes=[0, 1, 2], sample_weight=row_weights
        )
    _same_weights(ours, reference)

    balanced = DropoutMLPClassifier(class_weight="balanced", **FAST)
    with pytest.raises(ValueError, match="'balanced' is not supported by partial_fit"):
        balanced.partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(balanced, "classes_")
    # Set after a first call, too: the fitted model is kept.
    ours.set_params(class_weight="balanced")
    before = [c.copy() for c in ours.coefs_]
    with pytest.raises(ValueError, match="compute_class_weight"):
        ours.partial_fit(X, y)
    for kept, old in zip(ours.coefs_, before, strict=True):
        np.testing.assert_array_equal(kept, old)


def test_balanced_warm_start_fit_is_allowed(classification):
    X, y = classification
    clf = DropoutMLPClassifier(class_weight="balanced", warm_start=True, **FAST)
    clf.fit(X, y).fit(X, y)
    assert clf.n_iter_ == FAST["max_iter"]


@pytest.mark.parametrize("class_weight", ["balanced", {0: 2.0}])
def test_multilabel_targets_are_refused_naming_sample_weight(class_weight):
    X, Y = make_multilabel_classification(n_samples=60, n_classes=3, random_state=0)
    clf = DropoutMLPClassifier(class_weight=class_weight, **FAST)
    with pytest.raises(ValueError, match="multilabel") as info:
        clf.fit(X, Y)
    assert "compute_sample_weight" in str(info.value)
    assert not hasattr(clf, "coefs_")
    # Without class weights the same data fit; compute_sample_weight gives
    # the per-row weights the message points to.
    DropoutMLPClassifier(**FAST).fit(
        X, Y, sample_weight=compute_sample_weight("balanced", Y)
    )


@pytest.mark.parametrize(
    ("class_weight", "message"),
    [
        ({5: 1.0}, "weight for class 5, which is not a class of y"),
        ({"1": 1.0}, "weight for class '1', which is not a class of y"),
        ({0: -1.0}, "Got -1.0 for class 0 instead"),
        ({1: np.nan}, "Got nan for class 1 instead"),
        ({1: np.inf}, "Got inf for class 1 instead"),
        ({0: "heavy"}, "Got 'heavy' for class 0 instead"),
        ({0: True}, "Got True for class 0 instead"),
        ({0: None}, "Got None for class 0 instead"),
        ("heavy", "'class_weight' parameter of DropoutMLPClassifier must be"),
        ([1.0, 2.0], "'class_weight' parameter of DropoutMLPClassifier must be"),
        ({0: 0.0, 1: 0}, "gives every sample a weight of 0"),
        ({0: 1e300, 1: 1e300}, "overflows"),
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_class_weight_is_refused_naming_the_class(class_weight, message, method):
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    clf = DropoutMLPClassifier(class_weight=class_weight, **FAST)
    kwargs = {"classes": [0, 1]} if method == "partial_fit" else {}
    sample_weight = np.full(len(y), 1e10)
    with pytest.raises(ValueError, match=message):
        getattr(clf, method)(X, y, sample_weight=sample_weight, **kwargs)
    assert not hasattr(clf, "classes_")


def test_balanced_ignores_a_class_whose_rows_all_weigh_zero():
    X, y = make_classification(
        n_samples=90, n_features=5, n_classes=3, n_informative=3, random_state=0
    )
    sample_weight = (y != 2).astype(float)
    clf = DropoutMLPClassifier(class_weight="balanced", **FAST)
    clf.fit(X, y, sample_weight=sample_weight)
    assert np.isfinite(clf.coefs_[0]).all()
    # The two weighted classes get LogisticRegression's weights, computed
    # over the three classes present.
    totals = np.bincount(y, weights=sample_weight)
    reference = DropoutMLPClassifier(**FAST).fit(
        X,
        y,
        sample_weight=sample_weight
        * np.divide(totals.sum(), 3 * totals, where=totals > 0, out=np.zeros(3))[y],
    )
    _same_weights(clf, reference)


def test_balanced_raises_balanced_accuracy_on_an_imbalanced_problem():
    """95 % / 5 %: without weights the network mostly predicts the majority.

    benchmarks/class_weight.py runs this setting on five data seeds (the
    table in user_guide.rst): at data seed 0 the gain is 13 points (0.709 ->
    0.841), over the five seeds 13 to 24; the target is 5."""
    X, y = make_classification(
        n_samples=2000,
        n_features=20,
        n_informative=5,
        weights=[0.95, 0.05],
        flip_y=0.01,
        random_state=0,
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=0
    )
    scores = {}
    for class_weight in (None, "balanced"):
        clf = DropoutMLPClassifier(
            class_weight=class_weight, max_iter=50, random_state=0
        ).fit(X_train, y_train)
        scores[class_weight] = balanced_accuracy_score(y_test, clf.predict(X_test))
    assert scores["balanced"] >= scores[None] + 0.05, scores
