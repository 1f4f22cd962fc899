"""The result cache: versions made stale by bump_versions, TTL, counters, trimming, warm-up,
cachalot."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError

from stats import api_results, rollups
from stats import cache as result_cache
from stats.models import Guild
from tests.rows import create_hourly
from tests.stats.conftest import ALICE, GENERAL, GID, NOW, OTHER_GID, h

pytestmark = pytest.mark.django_db


def test_second_call_is_a_hit_and_a_bump_makes_it_stale(activity, django_assert_num_queries):
    hits, misses = result_cache.counters.hits, result_cache.counters.misses
    first = api_results.stats(activity, 2, "day", NOW)
    with django_assert_num_queries(0):
        assert api_results.stats(activity, 2, "day", NOW) == first
    assert (result_cache.counters.hits - hits, result_cache.counters.misses - misses) == (1, 1)

    create_hourly(
        guild_id=GID, hour=h("2025-03-31T12:00"), channel_id=GENERAL, user_id=777, messages=10
    )
    rollups.rebuild(GID)
    assert api_results.stats(activity, 2, "day", NOW)["totals"]["messages"] == 22  # still cached
    result_cache.bump_versions([GID])
    assert api_results.stats(activity, 2, "day", NOW)["totals"]["messages"] == 32


def test_bump_of_one_guild_leaves_others_cached(activity, django_assert_num_queries):
    other = Guild.objects.get(pk=OTHER_GID)
    api_results.channels(other, 2, NOW)
    result_cache.bump_versions([GID])
    with django_assert_num_queries(0):
        api_results.channels(other, 2, NOW)


def test_an_evicted_version_never_revives_old_entries(activity):
    api_results.heatmap(activity, 2, NOW)
    old = result_cache.data_version(GID)
    cache.delete(result_cache.version_key(GID))  # as if culled by the file cache
    assert result_cache.data_version(GID) > old


def test_config_change_makes_results_stale(activity):
    from stats import guild_config

    assert api_results.heatmap(activity, 2, NOW)["cells"][6][0] == 7
    guild_config.update(activity, {"timezone": "UTC"})
    guild = Guild.objects.get(pk=GID)
    assert api_results.heatmap(guild, 2, NOW)["cells"][6][0] == 2


def test_ttl_backstop(activity, settings):
    settings.MOCHA_RESULT_CACHE_TTL = 1
    api_results.channels(activity, 2, NOW)
    key = result_cache.result_key(activity, "channels", {"days": 2, "hour": h("2025-03-31T12:00")})
    assert cache.get(key) is not None
    time.sleep(1.1)
    assert cache.get(key) is None


def test_usage_counts_entries(activity):
    cache.set("a", 1)
    cache.set("b", 2)
    entries = result_cache.entries_per_cache()
    assert set(entries) == {"default"} and entries["default"] >= 2


def test_warm_cache_fills_the_dashboard_queries(activity, capsys, django_assert_max_num_queries):
    call_command("warm_cache")
    out = capsys.readouterr().out
    assert "[1/2]" in out and "[2/2]" in out and "warmed 2 guild(s)" in out
    # the API now answers from the cache: only the guild lookup (once, then cachalot) reaches the
    # database
    from django.test import Client

    with django_assert_max_num_queries(1):
        assert Client().get(f"/api/guilds/{GID}/stats").status_code == 200
        assert Client().get(f"/api/guilds/{GID}/leaderboard?metric=voice").status_code == 200


def test_warm_cache_one_guild_and_unknown_guild(activity, capsys):
    call_command("warm_cache", "--guild", str(GID))
    assert "[1/1]" in capsys.readouterr().out
    with pytest.raises(CommandError) as err:
        call_command("warm_cache", "--guild", "424242")
    assert err.value.returncode == 2 and "unknown guild 424242" in str(err.value)


@pytest.mark.slow
def test_warm_cache_cli_errors_are_one_line_exit_2(subprocess_env, manage_py):
    done = subprocess.run(
        [*manage_py, "warm_cache", "--guild", "123"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        done.returncode == 2
        and done.stderr.strip().count("\n") == 0
        and "unknown guild 123" in done.stderr
    )
    done = subprocess.run(
        [*manage_py, "warm_cache", "--guild", "x"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0


@pytest.mark.slow
def test_a_member_renamed_by_another_process_shows_on_the_next_request(
    subprocess_env, manage_py, client
):
    """cachalot caches Member reads in the shared cache; a write elsewhere must invalidate it."""
    from stats.models import Member

    guild = Guild.objects.create(id=GID, name="Paris", visibility="public")
    Member.objects.create(guild=guild, user_id=ALICE, username="alice")
    create_hourly(
        guild_id=GID, hour=h("2025-03-31T12:00"), channel_id=GENERAL, user_id=ALICE, messages=3
    )
    rollups.rebuild(GID)
    url = f"/api/guilds/{GID}/members/{ALICE}?days=3650"
    assert client.get(url).json()["name"] == "alice"
    assert client.get("/api/guilds").json()["guilds"][0]["name"] == "Paris"

    script = (
        "from stats.models import Member, Guild; "
        f"Member.objects.filter(user_id={ALICE}).update(nick='Renamed'); "
        f"Guild.objects.filter(pk={GID}).update(name='Lyon')"
    )
    subprocess.run([*manage_py, "shell", "-c", script], env=subprocess_env, check=True, timeout=60)
    # The result cache holds the member document until the collector bumps the version; cachalot
    # must not.
    result_cache.bump_versions([GID])
    assert client.get(url).json()["name"] == "Renamed"
    assert client.get("/api/guilds").json()["guilds"][0]["name"] == "Lyon"


def test_cleaning_between_tests_leaves_other_runs_keys_alone():
    """Test runs share one Redis server: each empties only the keys under its own prefix."""
    from tests.conftest import clear_own_cache

    client = result_cache.redis_client()
    if client is None:
        pytest.skip("the file cache of a run is a directory of its own")
    client = cache._cache.get_client(write=True)
    foreign = f"mocha-test-other-than-{os.getpid()}:1:kept"
    client.set(foreign, b"1", ex=60)
    cache.set("mine", 1)
    try:
        clear_own_cache()
        assert cache.get("mine") is None
        assert client.get(foreign) == b"1"
    finally:
        client.delete(foreign)


@pytest.mark.parametrize("part", [False, True])
def test_concurrent_misses_of_one_key_compute_it_once(part):
    """After a flush every viewer misses the same keys at once: one computes, the rest wait and
    read its result."""
    import threading
    from types import SimpleNamespace

    guild = SimpleNamespace(id=987_654_321 + part, updated_at=None)
    result_cache.bump_versions([guild.id])
    calls, results = [], []
    start = threading.Barrier(8)

    def compute():
        calls.append(1)
        time.sleep(0.2)
        return {"n": 42}

    def viewer():
        start.wait()
        if part:
            results.append(result_cache.cached_part(guild, "tail", (1,), compute, closed=False))
        else:
            results.append(result_cache.cached(guild, "stats", {"days": 30}, compute))

    threads = [threading.Thread(target=viewer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"n": 42}] * 8
    assert len(calls) == 1
    assert not result_cache._flights  # no lock left behind
