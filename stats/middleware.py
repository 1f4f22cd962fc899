"""Turn bad requests under /api/ and /metrics into JSON errors instead of HTML pages."""
from __future__ import annotations

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, JsonResponse

from stats.views.errors import wants_json


class JsonErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

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
