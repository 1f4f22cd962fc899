"""Who may read the operational endpoints (/metrics, /metrics/prometheus, /health/, /ws/health/).

They show process ids, memory, the database's size and event rates of every
guild (private ones included): staff only, or a scraper presenting
`Authorization: Bearer <MOCHA_METRICS_TOKEN>`.
"""

from __future__ import annotations

import hmac
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, JsonResponse

from stats.access import is_staff


def allowed(user, authorization: str) -> bool:
    if is_staff(user):
        return True
    token = settings.MOCHA_METRICS_TOKEN
    return bool(token) and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode())


def scope_authorization(scope: dict) -> str:
    return next(
        (v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"authorization"), ""
    )


def staff_or_token(view=None, *, page: bool = False):
    """Gate a view: refused with 403 JSON (a page sends anonymous visitors to sign in instead)."""

    def decorate(view):
        @wraps(view)
        def gated(request: HttpRequest, *args, **kwargs):
            if allowed(request.user, request.META.get("HTTP_AUTHORIZATION", "")):
                return view(request, *args, **kwargs)
            if page and not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            return JsonResponse({"error": "staff only"}, status=403)

        return gated

    return decorate(view) if view is not None else decorate
