class FeatureExtractor:
    """Keep two of the thirteen chemical measurements, as a numpy array."""

    columns = ['alcohol', 'malic_acid']

    def fit(self, X_df, y):
        return self

    def transform(self, X_df):
        return X_df[self.columns].to_numpy(dtype=float)
