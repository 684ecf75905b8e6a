import os

import pandas as pd
import rampwf as rw
from sklearn.model_selection import StratifiedShuffleSplit

problem_title = 'Wine cultivar classification'

_target_column_name = 'cultivar'
_prediction_label_names = ['class_0', 'class_1', 'class_2']

# A type (class) which will be used to create wrapper objects for y_pred
Predictions = rw.prediction_types.make_multiclass(
    label_names=_prediction_label_names)

# An object implementing the workflow: two elements,
# submissions/<name>/feature_extractor.py and submissions/<name>/classifier.py
workflow = rw.workflows.FeatureExtractorClassifier()

# The first score type is the official one (used for the leaderboard and bagging)
score_types = [
    rw.score_types.Accuracy(name='acc', precision=3),
    rw.score_types.NegativeLogLikelihood(name='nll', precision=3),
    rw.score_types.BalancedAccuracy(name='bal_acc', precision=3, adjusted=False),
]


def get_cv(X, y):
    cv = StratifiedShuffleSplit(n_splits=3, test_size=0.3, random_state=57)
    return cv.split(X, y)


def _read_data(path, f_name):
    data = pd.read_csv(os.path.join(path, 'data', f_name))
    y_array = data[_target_column_name].to_numpy(dtype=object)
    # the feature extractor receives a pandas DataFrame
    X_df = data.drop(columns=[_target_column_name])
    return X_df, y_array


def get_train_data(path='.'):
    f_name = 'train.csv'
    return _read_data(path, f_name)


def get_test_data(path='.'):
    f_name = 'test.csv'
    return _read_data(path, f_name)
