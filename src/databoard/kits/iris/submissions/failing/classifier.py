from sklearn.base import BaseEstimator


class Classifier(BaseEstimator):
    """A submission that raises during training, to show how errors are reported."""

    def fit(self, X, y):
        raise ValueError('this submission fails on purpose')

    def predict_proba(self, X):
        raise NotImplementedError
