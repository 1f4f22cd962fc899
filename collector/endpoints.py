"""Point discord.py at another Discord (the simulator): REST base, gateway URL, transport
compression."""

from __future__ import annotations

import json
import urllib.request
import zlib

import discord.gateway
import discord.http
import discord.utils
import yarl


def configure_discord(api_base: str | None) -> str | None:
    """Send discord.py's REST calls to `api_base` and its gateway to that server's /gateway/bot url.

    A plain ``Client`` never asks ``/gateway/bot``: it connects to
    ``DiscordWebSocket.DEFAULT_GATEWAY``,
    so that class attribute is replaced too. Returns the gateway URL (None when `api_base` is
    unset).
    """
    if not api_base:
        return None
    api_base = api_base.rstrip("/")
    with urllib.request.urlopen(f"{api_base}/gateway/bot", timeout=10) as response:
        url = json.load(response)["url"]
    discord.http.Route.BASE = api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
    return url


class ZlibStream:
    """discord.py's zlib-stream decoder (its own is defined only when zstandard is not
    installed)."""

    COMPRESSION_TYPE = "zlib-stream"

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.context = zlib.decompressobj()

    def decompress(self, data: bytes) -> str | None:
        if not data.endswith(b"\x00\x00\xff\xff"):  # a message ends with a sync flush
            self.buffer.extend(data)
            return None
        if self.buffer:  # the end of a message sent in several frames
            self.buffer.extend(data)
            data, self.buffer = self.buffer, bytearray()
        # Else the whole message is this frame, the common case: inflated with no copy.
        return self.context.decompress(data).decode()


_FROM_CLIENT = discord.gateway.DiscordWebSocket.from_client.__func__  # type: ignore[attr-defined]


async def _uncompressed_from_client(cls, client, **kwargs):
    return await _FROM_CLIENT(cls, client, **{**kwargs, "compress": False})


def use_transport_compression(kind: str | None) -> None:
    """Make discord.py ask for `kind` (``zlib-stream``, ``zstd-stream``) or for plain text frames
    (None).

    discord.py picks zstd-stream when the zstandard package is importable and zlib-stream
    otherwise, with no option; benchmarks and tests compare the three, so they choose here.
    """
    ws = discord.gateway.DiscordWebSocket
    if kind is None:
        ws.from_client = classmethod(_uncompressed_from_client)  # type: ignore[method-assign,assignment]
        return
    contexts = {
        "zlib-stream": ZlibStream,
        "zstd-stream": getattr(discord.utils, "_ZstdDecompressionContext", None),
    }
    if contexts.get(kind) is None:
        raise ValueError(f"discord.py cannot decode {kind!r} here")
    ws.from_client = classmethod(_FROM_CLIENT)  # type: ignore[method-assign,assignment]
    discord.utils._ActiveDecompressionContext = contexts[kind]  # type: ignore[attr-defined]
