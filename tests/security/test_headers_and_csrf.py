"""Security headers on pages and API answers, a CSP the templates can live with, CSRF on every
form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from stats.models import Guild
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.fixture
def guild(db) -> Guild:
    return Guild.objects.create(id=5150, name="Headers", visibility="public")


@pytest.mark.parametrize(
    "path, status",
    [
        ("/", 200),
        ("/guilds/5150/", 200),
        ("/health/", 302),  # staff only: anonymous visitors are sent to sign in
        ("/accounts/login/", 200),
        ("/admin/login/", 200),
        ("/guilds/404404/", 404),
        ("/api/guilds", 200),
        ("/api/guilds/5150/stats?days=7", 200),
        ("/api/guilds/5150/stats?days=0", 400),
        ("/api/guilds/404404/stats", 404),
        ("/api/openapi.json", 200),
        ("/metrics", 403),
    ],
)
def test_security_headers_on_pages_and_api(client, guild, path, status):
    response = client.get(path)
    assert response.status_code == status
    for name, value in HEADERS.items():
        assert response.get(name) == value, (path, name)
    policy = response.get("Content-Security-Policy", "")
    assert (
        "default-src 'self'" in policy
        and "frame-ancestors 'none'" in policy
        and "object-src 'none'" in policy
    )
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
HANDLER_ATTR = re.compile(r"\son[a-z]+\s*=", re.I)


def test_templates_have_no_inline_script_the_policy_would_block():
    """The CSP forbids inline scripts and event-handler attributes: none may appear in
    templates/."""
    offenders = []
    for path in Path(ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        if INLINE_SCRIPT.search(text) or HANDLER_ATTR.search(text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_every_post_form_in_templates_carries_a_csrf_token():
    for path in Path(ROOT / "templates").rglob("*.html"):
        for form in re.findall(
            r"<form[^>]*method=\"post\"[^>]*>.*?</form>", path.read_text(), re.S | re.I
        ):
            assert "{% csrf_token %}" in form, path


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "a-long-password")


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_login_forms_refuse_a_post_without_csrf_token(staff, path):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(path, {"username": "boss", "password": "a-long-password"})
    assert response.status_code == 403
    assert "_auth_user_id" not in strict.session


def test_login_with_the_token_from_the_form_works():
    """The control: the same post with the form's token is accepted (so the 403 above is CSRF)."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("viewer", password="a-long-password")
    strict = Client(enforce_csrf_checks=True)
    page = strict.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = strict.post(
        "/accounts/login/",
        {"username": "viewer", "password": "a-long-password", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302 and "_auth_user_id" in strict.session


@pytest.mark.parametrize(
    "path, data",
    [
        ("/accounts/logout/", {}),
        ("/admin/logout/", {}),
        ("/admin/stats/guild/5150/change/", {"name": "Renamed"}),
        (
            "/admin/stats/guild/",
            {"action": "delete_selected", "_selected_action": ["5150"], "post": "yes"},
        ),
        (
            "/admin/auth/user/add/",
            {
                "username": "mallory",
                "password1": "x-long-password-1",
                "password2": "x-long-password-1",
            },
        ),
    ],
)
def test_signed_in_admin_posts_without_csrf_token_are_refused(staff, guild, path, data):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    response = strict.post(path, data)
    assert response.status_code == 403
    assert Guild.objects.filter(pk=5150, name="Headers").exists()
    assert (
        not Guild._meta.apps.get_model("auth", "User").objects.filter(username="mallory").exists()
    )
