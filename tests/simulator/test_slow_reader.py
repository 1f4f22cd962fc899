"""A client that stops reading for a while must still get the whole burst, however far behind.

The simulator's flow control waits on aiohttp's drain helper, whose future is shared by every
writer of the connection. A timeout that cancelled it made the next wait raise CancelledError:
playback ended silently mid-burst (the 600k gateway bench stalled at ~270k, both sockets empty).
A playback cancelled without stop() is now logged.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time

from simulator import intents as bits
from simulator.server import Simulator
from tests.simulator.harness import running

BURST = 30_000
PAUSE_S = 1.5  # longer than the drain's 0.5 s timeout, several times over


def _masked(payload: bytes) -> bytes:
    """One masked text frame, as a client must send (RFC 6455 section 5.3)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0xFE)) + n.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


class RawGateway:
    """A bare socket speaking just enough websocket to identify and then count dispatches (text
    frames: a burst of them outgrows the kernel's socket buffers sooner than a compressed one)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        # A small receive window keeps the kernel from absorbing the burst while we do not read.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /gateway?v=10&encoding=json HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def identify(self, intents: int) -> None:
        payload = {"op": 2, "d": {"token": "t", "intents": intents, "properties": {}}}
        self.sock.sendall(_masked(json.dumps(payload).encode()))

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def next_text(self) -> str:
        _, size = self._take(2)
        if size == 126:
            size = int.from_bytes(self._take(2), "big")
        elif size == 127:
            size = int.from_bytes(self._take(8), "big")
        return self._take(size).decode()


def test_a_reader_that_pauses_past_the_drain_timeout_still_gets_the_whole_burst(monkeypatch):
    sim = Simulator(burst=BURST, members=50, channels=4, seed=1, start_delay=0)
    with running(sim):
        client = RawGateway(sim.port)
        try:
            client.identify(bits.GUILDS | bits.GUILD_MESSAGES)
            time.sleep(PAUSE_S)  # fall behind: over 1 MB waits, playback blocks in drain
            messages = 0
            deadline = time.monotonic() + 15
            while messages < BURST and time.monotonic() < deadline:
                messages += client.next_text().count('"t":"MESSAGE_CREATE"')
        except TimeoutError:
            pass  # nothing more came: the assertion below says how far it got
        finally:
            client.sock.close()
        assert (messages, sim.stats["sent"], sim.stats["done"]) == (BURST, BURST, True)


def test_playback_cancelled_without_stop_is_logged(caplog):
    sim = Simulator(burst=10, members=5, channels=1, seed=1)
    with running(sim):
        sim._player.get_loop().call_soon_threadsafe(sim._player.cancel)
        deadline = time.monotonic() + 5
        while not sim._player.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # the done-callback runs on the simulator's loop
    assert "playback was cancelled, not stopped: 0 sent" in caplog.text
