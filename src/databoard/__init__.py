"""databoard: challenges, model registry, datastore and labels for the machine-learning work of a group."""

__version__ = "0.1.0"
