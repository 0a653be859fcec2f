"""Brakes on abuse: password guessing is locked per account whatever way in and however the
name is spelt, the client's address is the peer's (not a header the client writes), and the API
is rate-limited per token and per user with the limits told in headers. They hold with Redis,
and keep working (still limiting) when Redis is down."""

import http.client
import socket
import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import create_api_token
from kanban import counters
from kanban.http import environ
from tests.servers import asgi_server

pytestmark = pytest.mark.django_db
API = "/api/v1"


def login_form(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


# --- the login lockout --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", [" bob", "bob ", "\tbob", "\uff42\uff4f\uff42", "BOB", "bob\n"]
)
def test_login_lockout_counts_every_spelling_of_the_same_user(world, settings, spelling):
    # given: 3 failures allowed, all spent on one way of writing bob's name
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    client = Client()
    for _ in range(3):
        assert login_form(client, spelling, "wrong").status_code == 200
    # when: the right password comes, spelt plainly
    answer = login_form(client, "bob", "pw")
    # then: refused without a session, and the page says why
    assert answer.status_code == 429
    assert "Too many failed attempts" in answer.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_locked_out_user_is_locked_out_of_the_token_endpoint_too(world, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    for _ in range(3):
        login_form(Client(), "bob", "wrong", address="10.0.0.9")
    api = APIClient(REMOTE_ADDR="10.0.0.9")
    answer = api.post(f"{API}/auth/token/", {"username": "bob", "password": "pw"}, format="json")
    assert answer.status_code == 429
    assert answer.json()["code"] == "throttled"
    assert int(answer["Retry-After"]) > 0
    assert not ApiToken.objects.filter(user=world.bob).exists()


def test_guessing_from_many_addresses_locks_the_account(world, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 100
    settings.LOGIN_FAILURES_PER_USER = 5
    for i in range(5):
        login_form(Client(), "bob", "wrong", address=f"10.1.0.{i}")
    assert login_form(Client(), "bob", "pw", address="10.1.0.200").status_code == 429
    # another account is not affected
    assert login_form(Client(), "alice", "pw", address="10.1.0.200").status_code == 302


def test_a_right_password_forgives_this_addresses_failures(world, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    client = Client()
    login_form(client, "bob", "wrong"), login_form(client, "bob", "wrong")
    assert login_form(client, "bob", "pw").status_code == 302
    client.logout()
    login_form(client, "bob", "wrong"), login_form(client, "bob", "wrong")
    assert login_form(client, "bob", "pw").status_code == 302


def test_the_admin_login_is_locked_out_too(world, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    world.alice.is_staff = True
    world.alice.save(update_fields=["is_staff"])
    client = Client()
    for _ in range(3):
        client.post("/admin/login/", {"username": "alice", "password": "x"}, REMOTE_ADDR="10.2.0.1")
    client.post(
        "/admin/login/?next=/admin/",
        {"username": "alice", "password": "pw"},
        REMOTE_ADDR="10.2.0.1",
    )
    assert "_auth_user_id" not in client.session
    # from elsewhere the right password still works (the account-wide limit is higher)
    other = Client()
    other.post("/admin/login/", {"username": "alice", "password": "pw"}, REMOTE_ADDR="10.2.0.2")
    assert other.session["_auth_user_id"] == str(world.alice.pk)


# --- the client's address -----------------------------------------------------------------------


def test_a_rotating_x_forwarded_for_does_not_escape_the_token_throttle(world, settings):
    settings.LOGIN_RATE = "3/min"
    wrong = {"username": "bob", "password": "guess"}
    answers = [
        APIClient().post(
            f"{API}/auth/token/", wrong, format="json", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}"
        )
        for i in range(4)
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 429]


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_clients(world, settings):
    # given: one proxy (nginx) appends the peer's address; what the client wrote is before it
    settings.TRUSTED_PROXY_COUNT = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    settings.LOGIN_RATE = "2/min"
    wrong = {"username": "bob", "password": "guess"}

    def attempt(forged: str, seen_by_proxy: str):
        return APIClient().post(
            f"{API}/auth/token/",
            wrong,
            format="json",
            HTTP_X_FORWARDED_FOR=f"{forged}, {seen_by_proxy}",
        )

    # when: one client forges a new address each time
    answers = [attempt(f"198.51.100.{i}", "192.0.2.7") for i in range(3)]
    # then: it is throttled by the address the proxy saw, and another client is not
    assert [a.status_code for a in answers] == [400, 400, 429]
    assert attempt("198.51.100.1", "192.0.2.8").status_code == 400


def test_a_header_spelt_with_underscores_does_not_pass_for_x_forwarded_for():
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/auth/token/",
        "headers": [(b"x_forwarded_for", b"203.0.113.9"), (b"x-real", b"1")],
        "client": ("127.0.0.1", 5000),
    }
    meta = environ(scope, b"")
    assert "HTTP_X_FORWARDED_FOR" not in meta
    assert meta["REMOTE_ADDR"] == "127.0.0.1" and meta["HTTP_X_REAL"] == "1"


@pytest.mark.django_db(transaction=True)
def test_through_the_real_server_forged_forwarding_headers_change_nothing(world):
    # uvicorn behind TRUSTED_PROXY_COUNT=1, but the attacker talks to it directly, rotating
    # both spellings: the underscore one is dropped, and with no proxy's entry the peer counts.
    env = {"LOGIN_RATE": "3/min", "TRUSTED_PROXY_COUNT": "1"}
    with asgi_server(env=env) as server:
        host, port = server.removeprefix("http://").split(":")
        statuses = []
        for i in range(5):
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            connection.putrequest("POST", "/api/v1/auth/token/")
            connection.putheader("Content-Type", "application/json")
            connection.putheader("X_Forwarded_For", f"203.0.113.{i}")
            body = b'{"username": "bob", "password": "guess"}'
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            statuses.append(connection.getresponse().status)
            connection.close()
    assert statuses == [400, 400, 400, 429, 429]


# --- API rate limits ----------------------------------------------------------------------------


def test_api_requests_past_the_token_limit_get_429_with_retry_after(world, api, settings):
    settings.API_RATE_TOKEN = "3/min"
    client = api(world.bob)
    answers = [client.get(f"{API}/me/") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[3]
    assert refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a["RateLimit-Limit"] for a in answers} == {"3"}
    assert refused["RateLimit-Policy"] == "3;w=60"
    assert 0 < int(refused["RateLimit-Reset"]) <= 60


def test_the_user_limit_spans_all_their_tokens_and_spares_other_users(world, api, settings):
    settings.API_RATE_USER = "4/min"
    first, second = api(world.bob), api(world.bob)
    answers = [c.get(f"{API}/me/").status_code for c in (first, second, first, second, first)]
    assert answers == [200, 200, 200, 200, 429]
    assert api(world.alice).get(f"{API}/me/").status_code == 200


def test_a_browser_session_counts_against_its_user(world, settings):
    settings.API_RATE_USER = "2/min"
    client = APIClient()
    client.force_login(world.bob)
    assert [client.get(f"{API}/me/").status_code for _ in range(3)] == [200, 200, 429]


# --- counted in Redis, and through an outage ---------------------------------------------------


def _redis_cache(settings, location: str) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }


def test_limits_are_counted_in_redis_for_every_process(world, api, settings):
    import os

    _redis_cache(settings, os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    settings.API_RATE_TOKEN = "2/min"
    client = api(world.bob)
    assert [client.get(f"{API}/me/").status_code for _ in range(3)] == [200, 200, 429]
    # the count is in Redis, not in this process: forget the process's own and it still holds
    counters._local.clear()
    token = ApiToken.objects.filter(user=world.bob).get()
    (count,) = counters.hit((f"api:token:{token.pk}", 60), add=0)
    assert count.count == 3


def test_with_redis_down_logins_and_the_api_keep_working_and_limiting(world, api, settings):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    _redis_cache(settings, dead)
    settings.API_RATE_TOKEN = "2/min"
    settings.LOGIN_FAILURES_PER_ADDRESS = 2
    _, key = create_api_token(user=world.bob)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    assert [client.get(f"{API}/me/").status_code for _ in range(3)] == [200, 200, 429]
    token = APIClient().post(f"{API}/auth/token/", {"username": "alice", "password": "pw"})
    assert token.status_code == 201
    browser = Client()
    assert login_form(browser, "alice", "pw").status_code == 302
    login_form(Client(), "bob", "x"), login_form(Client(), "bob", "x")
    assert login_form(Client(), "bob", "pw").status_code == 429
