"""JSON endpoints: the API under /api/ and /metrics."""
urlpatterns: list = []
