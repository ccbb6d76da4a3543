"""scikit-learn's estimator checks, with dropout on (the default) and off."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skdrop import DropoutMLPClassifier, DropoutMLPRegressor

# Dropout and shuffled mini-batches make these checks' premise false: a row
# of weight 2 and the same row given twice draw different masks and batches,
# so the two fits take different stochastic paths.
STOCHASTIC_PATH_XFAILS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "weights 2 and duplicated rows take different stochastic mini-batch "
        "and dropout paths"
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "weights 2 and duplicated rows take different stochastic mini-batch "
        "and dropout paths"
    ),
}

ESTIMATORS = [
    DropoutMLPClassifier(),
    DropoutMLPClassifier(dropout_rate=0.0),
    DropoutMLPRegressor(),
    DropoutMLPRegressor(dropout_rate=0.0),
]


def _expected_failed_checks(estimator):
    if estimator.dropout_rate == 0:
        return {}
    return STOCHASTIC_PATH_XFAILS


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
