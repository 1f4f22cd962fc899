from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "signin"
    verbose_name = "Sign in with Discord"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from allauth.account.signals import user_logged_in

        from signin.membership import on_login

        user_logged_in.connect(on_login, dispatch_uid="signin.on_login")
