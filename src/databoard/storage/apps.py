from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "databoard.storage"
    label = "storage"
    verbose_name = "Artifact storage"
