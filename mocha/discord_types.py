"""Facts about Discord's data model that the collector, the pages and the admin all rely on."""

from __future__ import annotations

# Snowflakes are unsigned 64-bit, but the database columns are signed BIGINT: anything above
# this is no id Mocha can hold, and must be refused before it reaches a query.
MAX_SNOWFLAKE = 2**63 - 1

# Channel types (Discord's `type` field) and how Mocha names them.
CHANNEL_KINDS = {
    0: "text",
    2: "voice",
    4: "category",
    5: "announcement",
    10: "thread",
    11: "thread",
    12: "thread",
    13: "stage",
    15: "forum",
    16: "media",
}
# Announcement, public and private threads: their messages count for their parent channel.
THREAD_TYPES = frozenset(t for t, kind in CHANNEL_KINDS.items() if kind == "thread")
# Voice and stage channels: presence there is voice time.
VOICE_TYPES = frozenset({2, 13})
