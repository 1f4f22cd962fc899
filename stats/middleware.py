"""Turn bad requests under /api/ and /metrics into JSON errors instead of HTML pages."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, JsonResponse

from stats.views.errors import wants_json

REASONS = {400: "bad request", 403: "forbidden", 404: "not found", 405: "method not allowed"}


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
            replacement = JsonResponse({"error": REASONS.get(status, "request error")}, status=status)
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
