from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "databoard.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from databoard.accounts import signals  # noqa: F401  (connects audit receivers)
