from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


class Classifier(BaseEstimator):
    """A logistic regression on standardized features."""

    def __init__(self):
        self.clf = make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))

    def fit(self, X, y):
        self.clf.fit(X, y)
        return self

    def predict_proba(self, X):
        return self.clf.predict_proba(X)
