"""`manage.py guild`: JSON out, changes applied, bad input one line with exit code 2."""

from __future__ import annotations

import json
import subprocess

import pytest
from django.core.management import call_command

from stats.models import Channel, Guild

pytestmark = pytest.mark.django_db


@pytest.fixture
def guild():
    g = Guild.objects.create(id=700000000000000001, name="Test Guild")
    Channel.objects.create(id=11, guild=g, name="general")
    Channel.objects.create(id=12, guild=g, name="memes")
    return g


def run_guild(*args, capsys=None) -> dict:
    call_command("guild", *map(str, args))
    return json.loads(capsys.readouterr().out)


def test_new_guilds_start_private_and_config_is_printed(guild, capsys):
    out = run_guild(guild.id, capsys=capsys)
    assert out["id"] == "700000000000000001"
    assert out["visibility"] == "private"
    assert out["timezone"] == "UTC"
    assert out["excluded_channels"] == []


def test_flags_change_the_configuration(guild, capsys):
    out = run_guild(
        guild.id,
        "--visibility",
        "public",
        "--timezone",
        "Europe/Paris",
        "--exclude-channel",
        11,
        "--exclude-channel",
        12,
        "--count-bots",
        "on",
        capsys=capsys,
    )
    assert out["visibility"] == "public"
    assert out["timezone"] == "Europe/Paris"
    assert out["excluded_channels"] == ["11", "12"]
    assert out["count_bots"] is True
    out = run_guild(guild.id, "--include-channel", 11, "--count-bots", "off", capsys=capsys)
    assert out["excluded_channels"] == ["12"]
    assert out["count_bots"] is False
    guild.refresh_from_db()
    assert guild.visibility == "public" and guild.timezone == "Europe/Paris"


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["999"],  # unknown guild
        ["notanumber"],
        ["700000000000000001", "--visibility", "secret"],
        ["700000000000000001", "--timezone", "Mars/Olympus"],
        ["700000000000000001", "--count-bots", "maybe"],
        ["700000000000000001", "--exclude-channel", "424242"],
        ["700000000000000001", "--bogus"],
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(guild, args, subprocess_env, manage_py):
    before = Guild.objects.values().get(pk=guild.pk)
    proc = subprocess.run(
        [*manage_py, "guild", *args], env=subprocess_env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert Guild.objects.values().get(pk=guild.pk) == before
