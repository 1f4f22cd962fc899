"""The health panel's building block, after django-debug-toolbar: one Panel subclass per module.

A panel turns the /metrics snapshot into a small document the page renders
generically, both server-side on first paint and in the browser on every
/ws/health/ update:

    {"id", "title", "summary", "stats": [{"label", "value", "warn"}],
     "table": {"columns": [...], "rows": [[...], ...]} | None, "warnings": [str]}

Values are formatted here, once, for people (``1.2 MB``, ``92.5 %``).
"""

from __future__ import annotations

from typing import Any


class Panel:
    """Subclasses set ``title`` and implement ``content(snapshot)``; the rest is shared."""

    title: str = ""

    @property
    def panel_id(self) -> str:
        return type(self).__name__.removesuffix("Panel").lower()

    def content(self, snapshot: dict) -> dict:
        """Stats, an optional table and warnings for this panel, from one snapshot."""
        raise NotImplementedError

    def render(self, snapshot: dict) -> dict:
        """The panel document; a panel that chokes on a partial snapshot says so instead of failing
        the page."""
        try:
            body = self.content(snapshot or {})
        except Exception as exc:  # a panel must never take the health page down
            body = {"stats": [], "warnings": [f"panel error: {type(exc).__name__}"]}
        return {
            "id": self.panel_id,
            "title": self.title,
            "summary": body.get("summary", ""),
            "stats": body.get("stats", []),
            "table": body.get("table"),
            "warnings": body.get("warnings", []),
        }


def stat(label: str, value: Any, warn: bool = False) -> dict:
    return {"label": label, "value": value, "warn": bool(warn)}


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def fmt_count(n: float | None) -> str:
    if n is None:
        return "—"
    n = float(n)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= limit:
            return f"{n / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{n:.0f}" if n == int(n) else f"{n:.1f}"


def fmt_rate(n: float | None) -> str:
    return "—" if n is None else f"{fmt_count(n)}/s"


def fmt_ms(n: float | None) -> str:
    if n is None:
        return "—"
    return f"{n:.0f} ms" if n >= 10 else f"{n:.1f} ms"


def fmt_pct(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f} %"


def fmt_duration(seconds: float | None) -> str:
    """3 h 20 min, 45 s, 2 d 4 h."""
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 and s < 600 else f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min" if s % 3600 // 60 else f"{s // 3600} h"
    return f"{s // 86400} d {s % 86400 // 3600} h"
