import os

import pandas as pd
import rampwf as rw
from sklearn.model_selection import ShuffleSplit

problem_title = 'Diabetes disease progression regression'

_target_column_name = 'progression'

# A type (class) which will be used to create wrapper objects for y_pred
Predictions = rw.prediction_types.make_regression()

# An object implementing the workflow: one element, submissions/<name>/regressor.py
workflow = rw.workflows.Regressor()

# The first score type is the official one (used for the leaderboard and bagging).
# All three are "lower is better".
score_types = [
    rw.score_types.RMSE(name='rmse', precision=2),
    rw.score_types.NormalizedRMSE(name='nrmse', precision=3),
    rw.score_types.MARE(name='mare', precision=3),
]


def get_cv(X, y):
    cv = ShuffleSplit(n_splits=3, test_size=0.25, random_state=57)
    return cv.split(X)


def _read_data(path, f_name):
    data = pd.read_csv(os.path.join(path, 'data', f_name))
    y_array = data[_target_column_name].to_numpy(dtype=float)
    X_array = data.drop(columns=[_target_column_name]).to_numpy(dtype=float)
    return X_array, y_array


def get_train_data(path='.'):
    f_name = 'train.csv'
    return _read_data(path, f_name)


def get_test_data(path='.'):
    f_name = 'test.csv'
    return _read_data(path, f_name)
