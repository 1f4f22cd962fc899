"""The gunicorn worker class for Mocha: uvicorn, with websocket compression off."""

from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker

# Browsers send nothing on Mocha's sockets: a frame over this closes the socket (1009)
# instead of being buffered (uvicorn's default allows 16 MiB per frame).
WS_MAX_FRAME = 4096


class MochaUvicornWorker(UvicornWorker):
    """uvicorn without permessage-deflate, with small incoming frames and no proxy-header rewriting.

    Live frames are small JSON ticks; per-socket deflate state cost ~45 KB of
    memory per socket (45 MB for 1,000 sockets) and CPU on every frame, for
    little bandwidth saved (BENCHMARKS.md, "Websocket fan-out").
    """

    CONFIG_KWARGS: dict[str, Any] = {
        **UvicornWorker.CONFIG_KWARGS,
        "ws_per_message_deflate": False,
        "ws_max_size": WS_MAX_FRAME,
        # The client address is decided by the application (stats/clients.py,
        # MOCHA_TRUSTED_PROXIES):
        # uvicorn must hand it the real peer, not its own reading of X-Forwarded-For.
        "proxy_headers": False,
    }
