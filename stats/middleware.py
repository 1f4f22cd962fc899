"""Request metrics; JSON errors under /api/ and /metrics; the Content-Security-Policy header."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, JsonResponse

from stats import instruments
from stats.views.errors import wants_json

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REASONS = {400: "bad request", 403: "forbidden", 404: "not found", 405: "method not allowed"}


class RequestMetricsMiddleware:
    """Duration and status of every request, labelled by URL pattern (never by raw path: ids would
    make a label value per guild and member). First in the chain, so static files count too."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.static_prefix = settings.STATIC_URL or "/static/"

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        route = self.route(request)
        method = request.method if request.method in METHODS else "other"
        instruments.REQUEST_SECONDS.labels(route, method).observe(time.perf_counter() - started)
        instruments.RESPONSES.labels(route, str(response.status_code)).inc()
        instruments.sample_memory()
        return response

    def route(self, request) -> str:
        match = getattr(request, "resolver_match", None)
        if match is not None and match.route:
            return "/" + match.route
        return "static" if request.path.startswith(self.static_prefix) else "unmatched"


class JsonErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # Django's own 4xx answers (405 from require_GET or ninja, CSRF 403, technical 404 in
        # DEBUG) are HTML or plain text; under /api/ and /metrics every error is JSON.
        if (
            400 <= response.status_code < 500
            and wants_json(request)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            status = response.status_code
            replacement = JsonResponse(
                {"error": REASONS.get(status, "request error")}, status=status
            )
            if response.has_header("Allow"):
                replacement["Allow"] = response["Allow"]
            return replacement
        return response

    def process_exception(self, request, exception):
        if not wants_json(request):
            return None
        if isinstance(exception, Http404):
            return JsonResponse({"error": str(exception) or "not found"}, status=404)
        if isinstance(exception, (BadRequest, SuspiciousOperation, ValueError)):
            return JsonResponse({"error": str(exception) or "bad request"}, status=400)
        if isinstance(exception, PermissionDenied):
            return JsonResponse({"error": "not found"}, status=404)
        return None


class ContentSecurityPolicyMiddleware:
    """Send settings.MOCHA_CONTENT_SECURITY_POLICY with every response that sets none itself."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "MOCHA_CONTENT_SECURITY_POLICY", "")

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response
