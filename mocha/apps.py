from django.apps import AppConfig


class MochaConfig(AppConfig):
    name = "mocha"
    verbose_name = "Mocha"
