from django.apps import AppConfig


class ChallengesConfig(AppConfig):
    name = "databoard.challenges"
    label = "challenges"
    verbose_name = "Challenges"
