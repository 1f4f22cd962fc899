"""JSON endpoints: the API under /api/ (OpenAPI at /api/openapi.json) and /metrics."""
from django.urls import path

from stats.api import api
from stats.views import metrics

urlpatterns = [
    path("api/", api.urls),
    path("metrics", metrics.metrics_json, name="metrics"),
    path("metrics/prometheus", metrics.metrics_prometheus, name="metrics-prometheus"),
]
