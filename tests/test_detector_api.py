"""EnsembleDetector follows the scikit-learn estimator contract (style.md section 6)."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from ensembles._validation import EnsemblesWarning
from ensembles.analysis.ensembles import EnsembleDetector
from ensembles.data.synthetic import planted_ensembles


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
