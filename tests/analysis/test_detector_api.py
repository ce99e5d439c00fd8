"""EnsembleDetector follows the scikit-learn estimator contract (docs/methods.md §D5)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from ensembles.analysis.ensembles import EnsembleDetector


@parametrize_with_checks(
    [
        EnsembleDetector(random_state=0),
        EnsembleDetector(n_ensembles=2, random_state=0),
        EnsembleDetector(n_ensembles=2, method="pca", random_state=0),
        EnsembleDetector(method="ica", significance="circular", n_shuffles=5, random_state=0),
        EnsembleDetector(method="svd", n_shuffles=5, random_state=0),
        EnsembleDetector(method="graph", n_shuffles=3, random_state=0),
        EnsembleDetector(n_ensembles=2, method="nmf", max_iter=200, random_state=0),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
