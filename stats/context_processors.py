from django.conf import settings


def mocha(request) -> dict:
    """Template globals: demo mode (no Discord token), whether Discord sign-in is offered, and how
    the viewer signed in (the navigation says so)."""
    user = getattr(request, "user", None)
    via = None
    if user is not None and user.is_authenticated:
        via = "Discord" if hasattr(user, "discord") else "password"
    return {
        "demo_mode": not settings.DISCORD_TOKEN,
        "discord_signin": bool(settings.DISCORD_CLIENT_ID),
        "signed_in_via": via,
    }
