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
