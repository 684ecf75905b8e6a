from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression


class Classifier(BaseEstimator):
    """A logistic regression on whatever the feature extractor returns."""

    def __init__(self):
        self.clf = LogisticRegression(max_iter=1000)

    def fit(self, X, y):
        self.clf.fit(X, y)
        return self

    def predict_proba(self, X):
        return self.clf.predict_proba(X)
