"""The estimators' docstrings: shared blocks filled in, and complete."""

import inspect

import numpy as np
import pytest

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor
from skdrop._docstrings import SECTIONS, fill_shared_sections

ESTIMATORS = [DropoutMLPClassifier, DropoutMLPRegressor]


def test_markers_become_their_blocks_indented_as_the_marker():
    filled = fill_shared_sections("Summary.\n\n  Notes\n  -----\n  SHARED_NOTES\n")
    assert "SHARED_NOTES" not in filled
    first_line = SECTIONS["SHARED_NOTES"].splitlines()[0]
    assert f"\n  {first_line}\n" in filled
    # Blank lines of a block stay empty rather than trailing the indentation.
    assert "\n  \n" not in filled


def test_a_marker_inside_a_sentence_is_left_alone():
    text = "Mentions MLP_PARAMETERS in passing."
    assert fill_shared_sections(text) == text


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_no_marker_is_left_in_the_docstring(Estimator):
    for marker in SECTIONS:
        assert marker not in Estimator.__doc__


@pytest.mark.parametrize(
    ("Estimator", "method"),
    [
        (Estimator, method)
        for Estimator in ESTIMATORS
        for method in ("fit", "partial_fit", "predict", "predict_samples")
    ]
    + [(DropoutMLPClassifier, "predict_proba")],
)
def test_no_marker_is_left_in_a_method_docstring(Estimator, method):
    # Through the class (the documentation) and through an instance (help()).
    for documented in (getattr(Estimator, method), getattr(Estimator(), method)):
        assert SECTIONS["X_PARAMETER"] in inspect.getdoc(documented)
        assert not any(marker in documented.__doc__ for marker in SECTIONS)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_parameters_are_documented_in_the_order_of_the_signature(Estimator):
    docscrape = pytest.importorskip("numpydoc.docscrape")
    documented = [p.name for p in docscrape.ClassDoc(Estimator)["Parameters"]]
    assert documented == list(inspect.signature(Estimator).parameters)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_every_fitted_attribute_is_documented(Estimator):
    docscrape = pytest.importorskip("numpydoc.docscrape")
    documented = {a.name for a in docscrape.ClassDoc(Estimator)["Attributes"]}
    X = np.random.default_rng(0).normal(size=(60, 3))
    # Learned rates give every attribute a fit can set (held-out rows too).
    model = Estimator(hidden_layer_sizes=(3,), dropout_rate="auto", max_iter=2)
    with pytest.warns(Warning):  # max_iter=2 does not converge
        model.fit(X, X[:, 0] > 0)
    fitted = {name for name in vars(model) if name.endswith("_") and name[0] != "_"}
    assert fitted <= documented
    # Attributes set only for some inputs (feature names) or some settings.
    assert documented - fitted <= {"feature_names_in_", "best_validation_score_"}
