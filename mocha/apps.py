from django.apps import AppConfig


class MochaConfig(AppConfig):
    name = "mocha"
    verbose_name = "Mocha"

    def ready(self) -> None:
        from mocha import cachalot_guard

        cachalot_guard.install()  # after cachalot's own patch (it is listed before this app)
