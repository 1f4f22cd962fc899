"""The gunicorn worker class for Mocha: uvicorn, with websocket compression off."""
from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker


class MochaUvicornWorker(UvicornWorker):
    """uvicorn without permessage-deflate.

    Live frames are small JSON ticks; per-socket deflate state cost ~45 KB of
    memory per socket (45 MB for 1,000 sockets) and CPU on every frame, for
    little bandwidth saved (BENCHMARKS.md, "Websocket fan-out").
    """

    CONFIG_KWARGS: dict[str, Any] = {**UvicornWorker.CONFIG_KWARGS, "ws_per_message_deflate": False}
