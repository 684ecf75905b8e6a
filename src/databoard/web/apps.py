from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "databoard.web"
    label = "web"
    verbose_name = "Web"
