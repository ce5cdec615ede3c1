"""Linear probes: how much label information a frozen representation exposes linearly.

Probes, each the one used wherever that kind of evaluation is needed:
``ridge_probe_accuracy`` (closed-form least squares on one-hot targets, deterministic),
``logistic_probe_accuracy`` (scikit-learn multinomial logistic regression) and
``knn_probe_accuracy`` (k-NN, the non-linear probe SSL papers report beside linear).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression


def ridge_probe_accuracy(
    h_train: np.ndarray,
    y_train: np.ndarray,
    h_test: np.ndarray,
    y_test: np.ndarray,
    classes: int,
    ridge: float = 1e-3,
) -> float:
    """Test accuracy of a least-squares linear probe (one-hot targets, bias, ridge * n * I).

    Features are standardised with the training mean and sd. Closed form and deterministic,
    which a logistic-regression probe run to a tolerance is not.
    """
    mu, sd = h_train.mean(axis=0), h_train.std(axis=0) + 1e-12
    a = np.hstack([(h_train - mu) / sd, np.ones((len(h_train), 1))])
    b = np.hstack([(h_test - mu) / sd, np.ones((len(h_test), 1))])
    onehot = np.eye(classes)[y_train]
    w = np.linalg.solve(a.T @ a + ridge * len(a) * np.eye(a.shape[1]), a.T @ onehot)
    return float(np.mean(np.argmax(b @ w, axis=1) == y_test))


def logistic_probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                            test_y: np.ndarray, seed: int, max_iter: int = 2000) -> float:
    """Test accuracy of a multinomial logistic-regression probe (L2, C = 1) fitted on
    ``train_x``; ``seed`` fixes the solver's randomness."""
    clf = LogisticRegression(max_iter=max_iter, random_state=seed)
    clf.fit(train_x, train_y)
    return float(clf.score(test_x, test_y))


def knn_probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                       test_y: np.ndarray, k: int = 5) -> float:
    """Test accuracy of a k-nearest-neighbour classifier (cosine distance, majority vote);
    deterministic."""
    from sklearn.neighbors import KNeighborsClassifier

    clf = KNeighborsClassifier(n_neighbors=k, metric="cosine")
    clf.fit(train_x, train_y)
    return float(clf.score(test_x, test_y))


def logistic_probe_cv(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                      test_y: np.ndarray, seed: int,
                      cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0),
                      folds: int = 3, max_iter: int = 1000,
                      standardize: bool = False) -> tuple[float, float]:
    """Test accuracy of a multinomial logistic probe whose inverse regularisation C is
    chosen by stratified ``folds``-fold cross-validation on the training part only (the
    test part never influences C). ``standardize`` scales features by the training mean/sd
    first (off by default: on sparse bag-of-words features such as Cora's it costs
    several points).

    Returns ``(accuracy, chosen C)``. The fold count is lowered to the smallest class size
    (at least 2) so that tiny training parts still split.
    """
    import warnings

    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    a, b = train_x, test_x
    if standardize:
        mu, sd = train_x.mean(axis=0), train_x.std(axis=0) + 1e-12
        a, b = (train_x - mu) / sd, (test_x - mu) / sd
    smallest = int(np.bincount(train_y).astype(float)[np.unique(train_y)].min())
    k = max(2, min(folds, smallest))
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny classes / lbfgs convergence notes
        with threadpool_limits(1):  # tiny problems: BLAS threads only contend
            clf = LogisticRegressionCV(Cs=list(cs), cv=cv, max_iter=max_iter, random_state=seed)
            clf.fit(a, train_y)
            acc = float(clf.score(b, test_y))
    return acc, float(np.ravel(clf.C_)[0])
