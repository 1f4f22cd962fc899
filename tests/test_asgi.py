"""The ASGI entry point's database settings."""

from django.db import connections


def test_asgi_application_keeps_no_connection_after_a_request():
    """Under ASGI each request's sync code runs in a thread of its own: a connection kept open
    would never serve another request, only wait (with its map of the database) for the garbage
    collector."""
    import mocha_site.asgi  # noqa: F401

    assert connections.settings["default"]["CONN_MAX_AGE"] == 0
