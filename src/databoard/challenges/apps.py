from django.apps import AppConfig


class ChallengesConfig(AppConfig):
    name = "databoard.challenges"
    label = "challenges"
    verbose_name = "Challenges"

    def ready(self) -> None:
        from databoard.challenges.metrics import EngineCollector
        from databoard.web.metrics import REGISTRY

        if not any(isinstance(c, EngineCollector) for c in REGISTRY._collector_to_names):
            REGISTRY.register(EngineCollector())
