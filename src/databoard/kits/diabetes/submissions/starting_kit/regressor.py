from sklearn.base import BaseEstimator
from sklearn.linear_model import LinearRegression

# X has the columns age, sex, bmi, bp, s1, s2, s3, s4, s5, s6 (in this order)
_BMI = 2


class Regressor(BaseEstimator):
    """A first model: a straight line on the body mass index alone."""

    def __init__(self):
        self.reg = LinearRegression()

    def fit(self, X, y):
        self.reg.fit(X[:, [_BMI]], y)
        return self

    def predict(self, X):
        return self.reg.predict(X[:, [_BMI]])
