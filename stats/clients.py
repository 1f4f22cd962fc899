"""Which client is this: the address the rate limits and socket caps are keyed on.

Behind a reverse proxy (MOCHA_BEHIND_PROXY) the peer is the proxy, so the
client is read from X-Forwarded-For — but only when the peer is one of
MOCHA_TRUSTED_PROXIES, and only as far as the hops that trusted proxies
appended: walking the header from the right, the first address that is not a
trusted proxy is the client. Anything to its left is the client's own word.
Without a header (a proxy that sets none) the client is the proxy itself.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks(tuple(settings.MOCHA_TRUSTED_PROXIES)))


def client_ip(peer: str, forwarded_for: str) -> str:
    """The client's address from the peer's address and the X-Forwarded-For header (may be
    empty)."""
    if not settings.MOCHA_BEHIND_PROXY or not is_trusted_proxy(peer):
        return peer
    client = peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        if not hop:
            break
        client = hop
        if not is_trusted_proxy(hop):
            break
    return client


def request_client(request: HttpRequest) -> str:
    return client_ip(
        request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


def scope_client(scope: dict) -> str:
    """The same for a websocket's ASGI scope."""
    peer = (scope.get("client") or ("",))[0] or ""
    headers = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"]
    return client_ip(peer, ",".join(headers))
