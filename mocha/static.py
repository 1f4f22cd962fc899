"""Static files through whitenoise, without Django's warning under ASGI.

whitenoise answers with a FileResponse over a synchronous file iterator. Served by
uvicorn, Django then reads that iterator into a list on a worker thread and prints
"StreamingHttpResponse must consume synchronous iterators" on the console. Reading
the (small, usually pre-compressed) file here instead, on the thread this synchronous
middleware already runs on, costs the same memory and leaves nothing to warn about.
"""

from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    def serve(self, static_file, request: HttpRequest) -> HttpResponse:
        response = super().serve(static_file, request)
        if not isinstance(request, ASGIRequest):
            return response  # WSGI streams the file as it is
        try:
            whole = HttpResponse(b"".join(response.streaming_content), status=response.status_code)
        finally:
            response.close()
        del whole["Content-Type"]
        for key, value in response.items():
            whole[key] = value
        return whole
