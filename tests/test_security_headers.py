"""HTTP security headers: the Content-Security-Policy, Permissions-Policy and Django's own
headers on pages and API answers; HSTS and Secure cookies over HTTPS; private caching of
authenticated answers; and `check --deploy` clean in production. The browser side (nothing on
the pages violates the policy, an injected script does not run) is in tests/browser/."""

import os
import secrets
import string
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client, override_settings

from tests.test_configuration import ROOT, run_settings

# Environment the test run has that would change the settings a subprocess starts with.
INHERITED_SETTINGS = {
    "SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "HTTPS",
    "SECURE_COOKIES", "TRUSTED_PROXY_COUNT", "HSTS_SECONDS", "HSTS_PRELOAD",
    "HSTS_INCLUDE_SUBDOMAINS", "ALLOWED_HOSTS",
}  # fmt: skip

EXPECTED_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "style-src-attr": ["'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
DISABLED_FEATURES = ("camera", "microphone", "geolocation", "payment", "usb", "interest-cohort")


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def session_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def answers(world, api):
    """The answers whose headers every test below checks: a board page (no websocket in a test
    client), an API answer to a token, the same to a session, and the anonymous login page."""
    return {
        "board page": session_client(world.alice).get(f"/boards/{world.board.pk}/"),
        "API, token": api(world.alice).get("/api/v1/me/"),
        "API, session": session_client(world.alice).get("/api/v1/me/"),
        "login page": Client().get("/accounts/login/"),
    }


def test_pages_and_api_answers_carry_the_content_security_policy(answers):
    for name, response in answers.items():
        assert response.status_code == 200, name
        assert csp_directives(response["Content-Security-Policy"]) == EXPECTED_CSP, name


def test_the_policy_allows_no_inline_script_and_no_eval(answers):
    policy = answers["board page"]["Content-Security-Policy"]
    assert "unsafe-inline" not in csp_directives(policy)["script-src"]
    assert "'unsafe-eval'" not in policy
    assert "'unsafe-inline'" not in csp_directives(policy)["style-src"]


def test_pages_and_api_answers_turn_off_camera_microphone_geolocation_payment_and_usb(answers):
    for name, response in answers.items():
        features = dict(
            item.strip().split("=", 1) for item in response["Permissions-Policy"].split(",")
        )
        for feature in DISABLED_FEATURES:
            assert features.get(feature) == "()", (name, feature)


def test_pages_and_api_answers_set_referrer_nosniff_opener_and_frame_headers(answers):
    for name, response in answers.items():
        assert response["Referrer-Policy"] == "same-origin", name
        assert response["X-Content-Type-Options"] == "nosniff", name
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", name
        assert response["X-Frame-Options"] == "DENY", name


@pytest.mark.django_db
def test_hsts_is_sent_for_a_year_with_subdomains_on_a_secure_request_only():
    assert not settings.DEBUG
    client = Client()

    secure = client.get("/accounts/login/", secure=True)
    plain = client.get("/accounts/login/")

    assert secure["Strict-Transport-Security"] == (
        f"max-age={365 * 24 * 60 * 60}; includeSubDomains; preload"
    )
    assert "Strict-Transport-Security" not in plain


def test_hsts_is_off_in_development_and_its_age_comes_from_the_environment():
    code = "from django.conf import settings as s; print(s.SECURE_HSTS_SECONDS)"
    development = run_settings({"DEBUG": "1"}, code)
    configured = run_settings({"DEBUG": "0", "SECRET_KEY": "x" * 50, "HSTS_SECONDS": "600"}, code)
    assert development.returncode == 0, development.stderr
    assert configured.returncode == 0, configured.stderr
    assert development.stdout.split() == ["0"]
    assert configured.stdout.split() == ["600"]


def login(client: Client, user, **extra):
    return client.post("/accounts/login/", {"username": user.username, "password": "pw"}, **extra)


def test_session_and_csrf_cookies_are_secure_on_a_secure_request_with_https_off(world):
    assert not settings.SESSION_COOKIE_SECURE and not settings.CSRF_COOKIE_SECURE
    client = Client()

    logged_in = login(client, world.alice, secure=True)
    page = client.get(f"/boards/{world.board.pk}/", secure=True)

    assert logged_in.status_code == 302
    assert logged_in.cookies[settings.SESSION_COOKIE_NAME]["secure"] is True
    assert page.cookies[settings.CSRF_COOKIE_NAME]["secure"] is True


def test_session_and_csrf_cookies_are_not_secure_on_plain_http_with_https_off(world):
    client = Client()

    logged_in = login(client, world.alice)
    page = client.get(f"/boards/{world.board.pk}/")

    assert logged_in.status_code == 302
    assert not logged_in.cookies[settings.SESSION_COOKIE_NAME]["secure"]
    assert not page.cookies[settings.CSRF_COOKIE_NAME]["secure"]


SECURITY_SETTINGS = (
    "from django.conf import settings as s; "
    "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
    "s.SECURE_REDIRECT_EXEMPT, s.SECURE_PROXY_SSL_HEADER)"
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "False False False [] None"),
        ({"HTTPS": "1"}, "True True True [] None"),
        (
            {"HTTPS": "1", "TRUSTED_PROXY_COUNT": "1"},
            "True True True [] ('HTTP_X_FORWARDED_PROTO', 'https')",
        ),
        ({"SECURE_COOKIES": "1"}, "True True False [] None"),
    ],
)
def test_https_switch_makes_cookies_secure_redirects_http_and_trusts_only_a_known_proxy(
    env, expected
):
    defaults = {"HTTPS": "", "SECURE_COOKIES": "", "TRUSTED_PROXY_COUNT": "0"}
    env = {"DEBUG": "0", "SECRET_KEY": "x" * 50, **defaults, **env}
    result = run_settings(env, SECURITY_SETTINGS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


@override_settings(SECURE_SSL_REDIRECT=True)
@pytest.mark.django_db
def test_with_https_on_a_plain_http_request_is_redirected_to_https():
    response = Client().get("/accounts/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"


def assert_private(response) -> None:
    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert {"private", "no-cache"} <= directives, response["Cache-Control"]
    vary = {v.strip().lower() for v in response["Vary"].split(",")}
    assert {"cookie", "authorization"} <= vary, response["Vary"]


def test_authenticated_pages_and_api_answers_are_private_to_the_user(answers):
    for name in ("board page", "API, token", "API, session"):
        assert_private(answers[name])


def test_an_api_answer_refusing_a_bad_token_is_private_too(world):
    response = Client().get("/api/v1/me/", HTTP_AUTHORIZATION="Token not-a-real-key")
    assert response.status_code == 401
    assert_private(response)


def test_a_view_that_chose_its_own_cache_control_keeps_it(world, api):
    # the CSV export asks for no-store: private would be weaker
    response = api(world.alice).get(f"/api/v1/boards/{world.board.pk}/export/cards.csv")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert "Authorization" in response["Vary"]


@pytest.mark.django_db
def test_anonymous_answers_are_not_made_private():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert "Cache-Control" not in response


@override_settings(WHITENOISE_USE_FINDERS=True)
def test_static_files_keep_whitenoises_public_caching_for_a_logged_in_user(world):
    # a new client builds its middleware (and WhiteNoise's file list) with the finders on
    response = session_client(world.alice).get("/static/js/board/index.js")
    assert response.status_code == 200
    assert "public" in response["Cache-Control"]
    assert "private" not in response["Cache-Control"]
    assert "Permissions-Policy" not in response


@pytest.mark.django_db
def test_api_docs_load_swagger_ui_and_its_init_script_from_files():
    page = Client().get("/api/docs/")
    script = Client().get("/api/docs/?script=")

    html = page.content.decode()
    assert "<style" not in html
    assert '<script src="/api/docs/?script="></script>' in html
    assert script["Content-Type"] == "application/javascript"
    assert "SwaggerUIBundle(" in script.content.decode()


def test_check_deploy_is_clean_in_production():
    alphabet = string.ascii_letters + string.digits + "!@#$%^&*(-_=+)"
    production = {
        "DEBUG": "0",
        "HTTPS": "1",
        "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(64)),
        "DATABASE_URL": "postgres://obeya:secret@db.example:5432/obeya",
        "REDIS_URL": "redis://cache.example:6379/0",
        "ALLOWED_HOSTS": "obeya.example.com",
    }
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_SETTINGS} | production
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout
