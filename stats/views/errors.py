"""Error handlers: JSON for the API and metrics, HTML pages elsewhere."""

from django.http import JsonResponse
from django.shortcuts import render


def wants_json(request) -> bool:
    return request.path.startswith(("/api/", "/metrics"))


def not_found(request, exception=None):
    if wants_json(request):
        return JsonResponse({"error": "not found"}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    from stats.metrics import record_web_error

    record_web_error()
    if wants_json(request):
        return JsonResponse({"error": "internal error"}, status=500)
    return render(request, "500.html", status=500)
