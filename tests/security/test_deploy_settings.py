"""Production settings: `check --deploy` is clean, and a missing secret refuses to start."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # each case starts a Django process


def prod_env(tmp_path, **overrides: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOCHA_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="mocha_site.settings.prod",
        MOCHA_SECRET_KEY=secrets.token_urlsafe(60),
        MOCHA_DEBUG="0",
        MOCHA_ALLOWED_HOSTS="example.com",
        MOCHA_VAR_DIR=str(tmp_path),  # nothing generated under the repository's var/
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_reports_no_issues_under_production_settings(tmp_path):
    result = manage(prod_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_does_complain_about_a_weak_secret(tmp_path):
    """The same check is not blind: a short key is flagged (so the clean result above means
    something)."""
    result = manage(
        prod_env(tmp_path, MOCHA_SECRET_KEY="short"), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode != 0 and "security.W009" in result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["MOCHA_SECRET_KEY", "MOCHA_ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_a_required_variable(tmp_path, missing):
    env = prod_env(tmp_path)
    env.pop(missing)
    result = manage(env, "check")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert (
        last == f"django.core.exceptions.ImproperlyConfigured: {missing} must be set in production"
    )
