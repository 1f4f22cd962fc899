from django.conf import settings


def mocha(request) -> dict:
    """Template globals: whether the site runs in demo mode (no Discord token)."""
    return {"demo_mode": not settings.DISCORD_TOKEN}
