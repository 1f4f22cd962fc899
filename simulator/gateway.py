"""Gateway sessions and the fast frame writer behind each websocket.

A :class:`Session` is what Discord keeps per IDENTIFY: an id, a sequence counter and a bounded
log of the dispatches it sent, so a RESUME can replay every dispatch after the client's sequence.
A :class:`Link` writes frames straight to the transport (unmasked server frames, no
permessage-deflate), many per ``write`` call: aiohttp's per-frame ``send_str`` would cost more
than discord.py's own parsing at tens of thousands of frames per second. Frames are text, or,
when the client asked for transport compression (``?compress=zlib-stream`` or ``zstd-stream``),
binary frames cut from one compression stream per connection, each message ending with a flush
so the client can decode it on its own: what Discord sends.
"""

from __future__ import annotations

import asyncio
import itertools
import zlib
from collections import deque
from collections.abc import Callable, Iterable

import zstandard
from aiohttp import web

from simulator.scenario import Dispatch

# Drain when this much is queued in the kernel-side write buffer of one connection.
HIGH_WATER = 1 << 20
# A client's inflate cost hardly depends on the level; the simulator's deflate cost does, and
# in benchmarks the simulator must not be what bounds the client.
ZLIB_LEVEL = 1
ZSTD_LEVEL = 1
COMPRESSIONS = ("zlib-stream", "zstd-stream")


def frame_bytes(payload: bytes, opcode: int = 0x81) -> bytes:
    """One unmasked, final websocket frame, text (0x81) or binary (0x82) (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((opcode, n)) + payload
    if n < 65536:
        return bytes((opcode, 126)) + n.to_bytes(2, "big") + payload
    return bytes((opcode, 127)) + n.to_bytes(8, "big") + payload


def text_frame(text: str) -> bytes:
    return frame_bytes(text.encode())


def zlib_framer() -> Callable[[str], bytes]:
    """Binary frames of one zlib stream; each message ends with Z_SYNC_FLUSH (00 00 ff ff)."""
    stream = zlib.compressobj(ZLIB_LEVEL)
    compress, flush, sync = stream.compress, stream.flush, zlib.Z_SYNC_FLUSH
    return lambda text: frame_bytes(compress(text.encode()) + flush(sync), 0x82)


def zstd_framer() -> Callable[[str], bytes]:
    """Binary frames of one zstd frame; each message ends with a flushed block."""
    stream = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj()
    compress, flush, block = stream.compress, stream.flush, zstandard.COMPRESSOBJ_FLUSH_BLOCK
    return lambda text: frame_bytes(compress(text.encode()) + flush(block), 0x82)


def framer(compression: str | None) -> Callable[[str], bytes]:
    """The frame encoder of a new connection; `compression` is None or one of COMPRESSIONS."""
    if compression == "zlib-stream":
        return zlib_framer()
    if compression == "zstd-stream":
        return zstd_framer()
    return text_frame


def _consume(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()


class Link:
    """One open websocket: buffered raw frames, flushed with one transport write."""

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, compression: str | None = None
    ) -> None:
        self.ws = ws
        self.transport = request.transport
        self.protocol = request.protocol
        self.compression = compression
        # Stateful when compressed: frames must be encoded in the order they go on the wire.
        self.encode = framer(compression)
        self.pending: list[bytes] = []
        self.closed = False

    def queue(self, text: str) -> None:
        if not self.closed:
            self.pending.append(self.encode(text))

    def queue_many(self, texts: Iterable[str]) -> None:
        if not self.closed:
            self.pending.extend(map(self.encode, texts))

    def flush(self) -> None:
        """Write what is queued, in order, without waiting (ordering is kept by the event loop)."""
        if not self.pending:
            return
        data, self.pending = b"".join(self.pending), []
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            self.closed = True
            return
        transport.write(data)

    async def drain(self) -> None:
        """Wait while the peer is slow, so memory stays bounded by HIGH_WATER per connection.

        aiohttp's drain helper awaits one future shared by every writer of the connection and
        kept until the transport resumes writing. Neither a timeout nor the cancellation of
        playback may cancel that future (so asyncio.wait, not wait_for): a cancelled one is
        awaited again by the next call and raises CancelledError, which once ended playback
        silently, mid-burst, whenever a client fell 0.5 s behind.
        """
        transport = self.transport
        while not self.closed and transport is not None and not transport.is_closing():
            if transport.get_write_buffer_size() <= HIGH_WATER:
                return
            helper = getattr(self.protocol, "_drain_helper", None)
            if helper is None:
                await asyncio.sleep(0.002)
                continue
            resumed = asyncio.ensure_future(helper())
            resumed.add_done_callback(_consume)  # a lost connection is seen by the loop's test
            await asyncio.wait((resumed,), timeout=0.5)

    def send_now(self, text: str) -> None:
        self.queue(text)
        self.flush()

    def abort(self) -> None:
        """Close the TCP connection with no close frame, losing whatever is still buffered."""
        self.closed = True
        self.pending = []
        if self.transport is not None:
            self.transport.abort()

    async def close(self, code: int) -> None:
        self.flush()
        self.closed = True
        await self.ws.close(code=code)


class Session:
    """A gateway session of one shard; dispatches are logged for RESUME and sent when linked."""

    def __init__(
        self,
        session_id: str,
        shard_id: int,
        shard_count: int,
        replay_buffer: int,
        intents: int = -1,
    ) -> None:
        self.id = session_id
        self.shard_id = shard_id
        self.shard_count = shard_count
        self.intents = (
            intents  # what IDENTIFY asked for: dispatches needing other intents are not sent
        )
        self.seq = 0
        self.log: deque[str] = deque(maxlen=replay_buffer)
        self.link: Link | None = None

    def dispatch(self, tail: str) -> None:
        """Give the dispatch the next sequence number, log it, and queue it on the live link."""
        self.seq += 1
        self.log.append(tail)
        if self.link is not None:
            self.link.queue(f'{{"op":0,"s":{self.seq:d}{tail}')

    def offer(self, dispatch: Dispatch) -> None:
        """Dispatch it if this session identified with the intent it needs."""
        need = dispatch.intent
        if not need or self.intents & need:
            self.dispatch(dispatch.tail)

    def can_resume_from(self, seq: int) -> bool:
        return 0 <= seq <= self.seq and self.seq - seq <= len(self.log)

    def missed_since(self, seq: int) -> list[str]:
        """Frames for every dispatch after `seq`, in order."""
        count = self.seq - seq
        start = len(self.log) - count
        return [
            f'{{"op":0,"s":{seq + 1 + i:d}{tail}'
            for i, tail in enumerate(itertools.islice(self.log, start, None))
        ]
