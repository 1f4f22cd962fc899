"""/metrics (JSON) and /metrics/prometheus (Prometheus text): thin views over stats.metrics."""
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from stats import metrics


@require_GET
def metrics_json(request):
    return JsonResponse(metrics.snapshot())


@require_GET
def metrics_prometheus(request):
    return HttpResponse(metrics.prometheus(), content_type="text/plain; version=0.0.4; charset=utf-8")
