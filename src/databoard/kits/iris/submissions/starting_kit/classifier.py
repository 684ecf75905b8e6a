from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression


class Classifier(BaseEstimator):
    """A first model: a logistic regression on the two sepal measurements only.

    X has the columns sepal_length, sepal_width, petal_length, petal_width
    (in this order). Using the petal measurements too is an easy improvement.
    """

    def __init__(self):
        self.clf = LogisticRegression(max_iter=1000)

    def fit(self, X, y):
        self.clf.fit(X[:, :2], y)
        return self

    def predict_proba(self, X):
        return self.clf.predict_proba(X[:, :2])
