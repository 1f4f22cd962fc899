"""Sessions made outside a sign-in: what the login view would leave for a user."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings


def session_key_for(user) -> str:
    """A new session in which `user` is signed in (password backend), as after logging in."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store.create()
    return store.session_key
