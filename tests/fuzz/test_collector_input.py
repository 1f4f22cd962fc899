"""Mutated payloads among normal traffic, through the simulator, to a real `manage.py collect`.

Hypothesis mutates valid payloads of every kind the collector reads (swapped types, missing and
extra keys, huge and negative integers, unicode and NUL in strings, nulls at any depth) and
spreads them through the basic scenario. Whatever they are: the scenario's own traffic is counted
exactly, the collector never stops before it is told to, nothing reaches the database that it
refuses (no flush fails, nothing quarantined), and every skipped payload is one WARNING line and
one /metrics count. The mutated payloads use their own users, channels and guild, so the
scenario's expected totals stay what they are whatever becomes of them.
Runs on SQLite and on PostgreSQL (the suite's DATABASE_URL); one collector run per example.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stats.models import CollectorState, MemberEvent, QuarantinedRow
from tests.collector import payloads as p
from tests.collector.harness import scenario_lines
from tests.collector.test_collect_scenarios import totals
from tests.collector.test_invalid_payloads_end_to_end import (
    SKIPPED_LINE,
    interleave,
    play_to_collect,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
G = 700000000000000001
USER, OTHER_USER = 700000000000800001, 700000000000800002
TEXT, VOICE, THREAD = 700000000000000081, 700000000000000082, 700000000000000083
OTHER_GUILD = 700000000000000099
TS = "2026-11-26T18:40:16+00:00"
PAYLOADS_PER_RUN = 40


def templates() -> list[tuple[str, dict]]:
    """One valid payload of each kind, on the fuzz users, channels and guild."""
    return [
        ("MESSAGE_CREATE", p.message(USER, TEXT, TS, guild=G)),
        ("MESSAGE_CREATE", p.message(OTHER_USER, THREAD, TS, guild=G)),
        ("VOICE_STATE_UPDATE", p.voice(USER, VOICE, guild=G)),
        ("VOICE_STATE_UPDATE", p.voice(USER, None, guild=G)),
        ("GUILD_MEMBER_ADD", p.member_add(OTHER_USER, guild=G)),
        ("GUILD_MEMBER_REMOVE", p.member_remove(OTHER_USER, guild=G)),
        ("GUILD_MEMBER_UPDATE", {**p.member_add(USER, guild=G), "nick": "nick"}),
        ("CHANNEL_CREATE", p.channel(TEXT, "fuzz-text", guild=G)),
        ("CHANNEL_UPDATE", p.channel(VOICE, "fuzz-voice", 2, guild=G)),
        ("THREAD_CREATE", p.channel(THREAD, "fuzz-thread", 11, parent=TEXT, guild=G)),
        (
            "THREAD_DELETE",
            {"id": str(THREAD), "guild_id": str(G), "parent_id": str(TEXT), "type": 11},
        ),
        ("CHANNEL_DELETE", p.channel(VOICE, "fuzz-voice", 2, guild=G)),
        (
            "THREAD_LIST_SYNC",
            {"guild_id": str(G), "threads": [p.channel(THREAD, "t", 11, parent=TEXT, guild=G)]},
        ),
        (
            "GUILD_UPDATE",
            {"id": str(OTHER_GUILD), "name": "Other", "afk_channel_id": None, "icon": None},
        ),
        ("GUILD_DELETE", {"id": str(OTHER_GUILD), "unavailable": True}),
        (
            "GUILD_CREATE",
            p.guild_create(
                OTHER_GUILD,
                channels=[p.channel(91, "x", guild=OTHER_GUILD)],
                members=[USER],
                voice=[(USER, 92)],
            ),
        ),
    ]


# Strings that are never an id: unicode (no lone surrogates: JSON cannot carry them), NUL, long.
weird_text = st.tuples(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
    st.sampled_from(["\x00", "é", "x", "🚀"]),
).map("".join)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    weird_text,
    st.floats(allow_nan=False, allow_infinity=False),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def node_paths(value: object, path: tuple = ()) -> Iterator[tuple]:
    """Every place inside a payload: dict keys and list positions, at any depth."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        yield (*path, key)
        yield from node_paths(child, (*path, key))


def swapped(value: object) -> object:
    """The same value in another JSON type."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return int(value) if value.isdigit() else [value]
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return 0


@st.composite
def mutated(draw) -> str:
    """One template payload with one to three mutations, as a scenario line."""
    event, d = draw(st.sampled_from(templates()))
    d = copy.deepcopy(d)
    for _ in range(draw(st.integers(1, 3))):
        paths = [
            path for path in node_paths(d) if not (event == "GUILD_CREATE" and path == ("id",))
        ]
        if not paths:
            break
        *parents, last = draw(st.sampled_from(paths))
        parent = d
        for key in parents:
            parent = parent[key]
        op = draw(st.sampled_from(["delete", "null", "swap", "huge", "negative", "text", "extra"]))
        if op == "delete":
            del parent[last]
        elif op == "extra" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(json_value)
        else:
            parent[last] = {
                "null": None,
                "swap": swapped(parent[last]) if op == "swap" else None,
                "huge": draw(st.integers(2**63, 2**80)) if op == "huge" else None,
                "negative": draw(st.integers(-(2**70), -1)) if op == "negative" else None,
                "text": draw(weird_text) if op == "text" else None,
                "extra": draw(json_value) if op == "extra" else None,
            }[op]
    return json.dumps({"t": event, "d": d})


def real_traffic() -> dict:
    """The counts of the scenario's own members and channels (the fuzz ones left out)."""
    got = totals()
    fuzz_users = {str(USER), str(OTHER_USER)}
    members = MemberEvent.objects.filter(guild_id=G).exclude(user_id__in=[USER, OTHER_USER])
    return {
        "per_user": {u: n for u, n in got["per_user"].items() if u not in fuzz_users},
        "per_channel": {
            c: n for c, n in got["per_channel"].items() if int(c) not in (TEXT, VOICE, THREAD)
        },
        "joins": members.filter(kind=1).count(),
        "leaves": members.filter(kind=2).count(),
    }


@settings(
    max_examples=3,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(odd=st.lists(mutated(), min_size=PAYLOADS_PER_RUN, max_size=PAYLOADS_PER_RUN))
def test_mutated_payloads_never_change_the_valid_traffic_or_stop_the_collector(
    odd, basic_scenario, basic_expected, subprocess_env, manage_py, tmp_path
):
    call_command("flush", interactive=False, verbosity=0)  # one clean database per example
    lines = interleave(scenario_lines(basic_scenario), odd)
    expected = {k: basic_expected[k] for k in ("per_user", "per_channel", "joins", "leaves")}

    def all_counted() -> bool:
        return sum(real_traffic()["per_user"].values()) >= basic_expected["messages"]

    code, err = play_to_collect(manage_py, subprocess_env, lines, tmp_path, all_counted)
    assert code == 0, err
    assert "Traceback" not in err, err
    assert real_traffic() == expected
    assert "flush failed" not in err and not QuarantinedRow.objects.exists(), err
    skipped = sum(sum(s.skipped.values()) for s in CollectorState.objects.all())
    assert (
        skipped > 0 and len(SKIPPED_LINE.findall(err)) == skipped
    )  # one line per skipped payload (or part)
