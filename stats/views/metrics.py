"""/metrics (JSON) and /metrics/prometheus (Prometheus text): thin views over stats.metrics and
stats.prometheus."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from stats import metrics, prometheus


@require_GET
def metrics_json(request):
    return JsonResponse(metrics.snapshot())


@require_GET
def metrics_prometheus(request):
    return HttpResponse(prometheus.exposition(), content_type=CONTENT_TYPE_LATEST)
