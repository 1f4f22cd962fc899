"""JSON endpoints: the API under /api/ (OpenAPI at /api/openapi.json) and /metrics."""

from django.urls import path

from stats.api import api
from stats.operational import staff_or_token
from stats.views import metrics

urlpatterns = [
    path("api/", api.urls),
    path("metrics", staff_or_token(metrics.metrics_json), name="metrics"),
    path(
        "metrics/prometheus", staff_or_token(metrics.metrics_prometheus), name="metrics-prometheus"
    ),
]
