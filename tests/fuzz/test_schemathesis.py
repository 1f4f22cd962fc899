"""Schemathesis against /api/openapi.json, in-process over WSGI: no input reaches a 500, and every
response (200, 400, 404) matches the schema the API publishes.

Generated snowflakes almost never name a real guild, so the path parameters are also drawn
from the fixture's ids: the public guild with data (200s), the private one and an unknown
one (404s), a known member and an unknown one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from stats import rollups
from stats.models import Channel, Guild, Member, MemberEvent, hour_of
from tests.rows import add_hourly, hourly

PUBLIC, PRIVATE, UNKNOWN = 4242, 4343, 4444
ALICE, BOB, STRANGER = 71, 72, 79
CHECKS = [not_a_server_error, response_schema_conformance]


def load_schema():
    """The published schema, loaded from the Django app itself (no server; the view reads no
    table)."""
    from django.core.wsgi import get_wsgi_application

    return schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@pytest.fixture
def keep_test_connection():
    """As django.test.Client does: a request's start and end must not close this test's
    connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def guilds_with_data(db, keep_test_connection) -> None:
    """A public guild with a few days of messages, voice and joins; a private guild too."""
    public = Guild.objects.create(
        id=PUBLIC, name="Fuzz", visibility="public", timezone="Europe/Paris", member_count=3
    )
    private = Guild.objects.create(id=PRIVATE, name="Hidden", visibility="private")
    Channel.objects.bulk_create(
        [
            Channel(id=11, guild=public, name="general"),
            Channel(id=21, guild=public, name="Lounge", type=2),
            Channel(id=31, guild=private, name="secret"),
        ]
    )
    Member.objects.bulk_create(
        [
            Member(guild=public, user_id=ALICE, username="alice", nick="Alice"),
            Member(guild=public, user_id=BOB, username="bob"),
            Member(guild=private, user_id=ALICE, username="alice"),
        ]
    )
    now = hour_of(datetime.now(UTC))
    add_hourly(
        [
            hourly(
                guild_id=PUBLIC, hour=now - back, channel_id=11, user_id=ALICE, messages=back + 1
            )
            for back in range(0, 24 * 40, 7)
        ]
        + [
            hourly(guild_id=PUBLIC, hour=now - 3, channel_id=21, user_id=BOB, voice_seconds=1234),
            hourly(guild_id=PUBLIC, hour=now - 30, channel_id=11, user_id=BOB, messages=4),
            hourly(guild_id=PRIVATE, hour=now - 1, channel_id=31, user_id=ALICE, messages=9),
        ]
    )
    MemberEvent.objects.create(guild_id=PUBLIC, user_id=BOB, kind=1, at=datetime.now(UTC))
    rollups.rebuild(PUBLIC)
    rollups.rebuild(PRIVATE)


schema = load_schema()
GUILD_IDS = st.sampled_from(
    [None, str(PUBLIC), str(PUBLIC), str(PUBLIC), str(PRIVATE), str(UNKNOWN)]
)
USER_IDS = st.sampled_from([None, str(ALICE), str(BOB), str(STRANGER)])


@schema.parametrize()
@schema.given(gid=GUILD_IDS, uid=USER_IDS)
@settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_conforms_to_its_schema_and_never_fails(case, gid, uid, guilds_with_data):
    if gid is not None and "gid" in (case.path_parameters or {}):
        case.path_parameters["gid"] = gid
    if uid is not None and "uid" in (case.path_parameters or {}):
        case.path_parameters["uid"] = uid
    response = case.call()
    case.validate_response(response, checks=CHECKS)
    assert response.status_code in (200, 400, 404), (response.status_code, response.text[:200])
    if (
        response.headers.get("Content-Type", [""])[0].startswith("application/json")
        and response.status_code != 200
    ):
        assert set(response.json()) == {"error"}


# --- Cross-guild: a viewer of one private guild never sees anything of another ---------------

OTHER = 5454545454  # a private guild the viewer is not granted
MALLORY = 7373737373  # a member of that guild only
OTHER_MARKS = [str(OTHER), str(MALLORY), "Forbidden Guild", "forbidden-plans", "mallory-secret"]


@pytest.fixture
def viewer_session(guilds_with_data, django_user_model) -> str:
    """A viewer granted PRIVATE only, signed in; OTHER holds names and ids that must never show."""
    from django.contrib.sessions.backends.db import SessionStore

    viewer = django_user_model.objects.create_user("granted-viewer", password="x")
    Guild.objects.get(pk=PRIVATE).viewers.add(viewer)
    other = Guild.objects.create(id=OTHER, name="Forbidden Guild", visibility="private")
    Channel.objects.create(id=OTHER + 1, guild=other, name="forbidden-plans")
    Member.objects.create(guild=other, user_id=MALLORY, username="mallory-secret")
    now = hour_of(datetime.now(UTC))
    add_hourly(
        [
            hourly(guild_id=OTHER, hour=now - h, channel_id=OTHER + 1, user_id=MALLORY, messages=3)
            for h in range(48)
        ]
    )
    rollups.rebuild(OTHER)
    store = SessionStore()
    store.update(
        {
            "_auth_user_id": str(viewer.pk),
            "_auth_user_hash": viewer.get_session_auth_hash(),
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        }
    )
    store.create()
    return store.session_key


CROSS_GUILD_IDS = st.sampled_from([None, str(PRIVATE), str(PRIVATE), str(OTHER), str(PUBLIC)])
CROSS_USER_IDS = st.sampled_from([None, str(ALICE), str(MALLORY)])


@schema.parametrize()
@schema.given(gid=CROSS_GUILD_IDS, uid=CROSS_USER_IDS)
@settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_a_private_guild_viewer_never_sees_another_private_guild(case, gid, uid, viewer_session):
    if gid is not None and "gid" in (case.path_parameters or {}):
        case.path_parameters["gid"] = gid
    if uid is not None and "uid" in (case.path_parameters or {}):
        case.path_parameters["uid"] = uid
    response = case.call(cookies={"sessionid": viewer_session})
    case.validate_response(response, checks=CHECKS)
    leaked = [mark for mark in OTHER_MARKS if mark in response.text]
    assert not leaked, (case.path, case.path_parameters, case.query, leaked)
    if (case.path_parameters or {}).get("gid") == str(OTHER):
        assert response.status_code in (400, 404)
    if (case.path_parameters or {}).get("gid") == str(PRIVATE) and "{uid}" not in case.path:
        assert response.status_code in (200, 400)  # signed in: the granted guild answers
