"""Faults around the Celery worker, in the production shape: uvicorn and a prefork worker on a
private redis-server that the tests restart or that a worker dies under. Nothing dies for good,
and no alert stays stale for long."""

import asyncio
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from accounts.services import create_api_token
from boards import services
from boards.flow import followups
from boards.models import Alert, AlertKind, MetricsSnapshot
from tests.servers import RedisServer, asgi_server, celery_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def api(base: str, method: str, path: str, token: str, body: dict | None = None) -> int:
    request = urllib.request.Request(
        f"{base}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def column_alert_open(board) -> bool:
    return Alert.objects.filter(
        board=board, kind=AlertKind.WIP_COLUMN, closed_at__isnull=True
    ).exists()


@pytest.fixture
def shape(tmp_path):
    """A private Redis (broker, cache and channel layer), a queue and cache prefix of its
    own, and the environment that points a web server at them with a real worker behind."""
    name = f"faults-{uuid.uuid4().hex[:8]}"
    with RedisServer() as redis:
        env = {"CELERY_EAGER": "0", "CELERY_QUEUE": name, "CACHE_KEY_PREFIX": name}
        # The load below moves as fast as one client goes (over 1,200 a minute on a quick
        # machine): the API's rate limits are not what these tests are about.
        env |= {"API_RATE_TOKEN": "1000000/min", "API_RATE_USER": "1000000/min"}
        yield redis, name, env, tmp_path / "worker.log"


def moves_between(world, columns, n: int = 8) -> list[int]:
    return [
        services.create_card(
            world.board, title=f"load {i}", column=columns[i % 2], actor=world.alice
        ).pk
        for i in range(n)
    ]


def test_the_worker_survives_redis_restarting_twice_under_load(world, shape):
    redis, queue, env, log_path = shape
    ready, review, doing = (world.column(n) for n in ("Ready", "Review", "Doing"))
    services.update_column(doing, wip_limit=2, actor=world.alice)
    cards = moves_between(world, [ready, review])
    _, token = create_api_token(user=world.bob)
    answers: list[int] = []
    stop = threading.Event()

    def load(base: str) -> None:  # moves back and forth as fast as one client goes
        i = 0
        while not stop.is_set():
            card, target = cards[i % len(cards)], (ready, review)[(i // len(cards)) % 2]
            answers.append(api(base, "POST", f"/api/v1/cards/{card}/move/", token,
                               {"column": target.pk}))  # fmt: skip
            i += 1

    with (
        open(log_path, "w") as log,
        asgi_server(redis_url=redis.url, env=env) as base,
        celery_worker(queue, redis_url=redis.url, production=True, log=log) as worker,
    ):
        loader = threading.Thread(target=load, args=(base,))
        loader.start()
        try:
            time.sleep(4)
            # when: Redis goes away and comes back, twice, while the moves go on
            for _ in range(2):
                redis.stop()
                time.sleep(2)
                redis.start()
                time.sleep(4)
        finally:
            stop.set()
            loader.join(30)
        # then: the worker is alive, and every move was answered (during the outage too)
        assert worker.poll() is None, log_path.read_text()[-3000:]
        assert answers and set(answers) == {200}, sorted(set(answers))
        # and a board going over its limit now gets its alert, and fresh metrics, in 30 s
        since = time.time()
        for card in cards[:3]:
            assert api(base, "POST", f"/api/v1/cards/{card}/move/", token,
                       {"column": doing.pk}) == 200  # fmt: skip
        wait_until(lambda: column_alert_open(world.board), timeout=30, what="the WIP alert")
        wait_until(
            lambda: MetricsSnapshot.objects.filter(
                board=world.board, computed_at__gte=_aware(since)
            ).exists(),
            timeout=30,
            what="a metrics refresh",
        )
    assert "Unrecoverable error" not in log_path.read_text()


def test_a_board_over_its_limit_gets_its_alert_soon_after_a_killed_worker_is_replaced(
    world, shape, settings
):
    redis, queue, env, log_path = shape
    doing = world.column("Doing")
    services.update_column(doing, wip_limit=1, actor=world.alice)
    services.create_card(world.board, title="in progress", column=doing, actor=world.alice)
    card = services.create_card(
        world.board, title="next", column=world.column("Ready"), actor=world.alice
    )
    _, token = create_api_token(user=world.bob)
    # The test shares the web side's and the worker's cache, to read and set their keys.
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis.url,
            "KEY_PREFIX": queue,
        }
    }
    from django.core.cache import cache

    with open(log_path, "w") as log, asgi_server(redis_url=redis.url, env=env) as base:
        with celery_worker(queue, redis_url=redis.url, production=True, log=log) as first:
            # (ready once it has run the check of a first move)
            assert api(base, "POST", f"/api/v1/cards/{card.pk}/move/", token,
                       {"column": world.column("Review").pk}) == 200  # fmt: skip
            started_key = followups._started_key(world.board.pk)
            wait_until(lambda: cache.get(started_key) is not None and broker_idle(redis, queue),
                       timeout=30, what="the first worker to run its tasks")  # fmt: skip
            # given: the board's check is due to start later (a run has just started, as
            # under a steady stream), so the worker takes the message and holds it
            cache.set(started_key, time.time() + 30)
            assert api(base, "POST", f"/api/v1/cards/{card.pk}/move/", token,
                       {"column": doing.pk}) == 200  # fmt: skip
            time.sleep(2)
            # when: the worker is killed outright, holding it
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        assert not column_alert_open(world.board)
        # then: a new worker raises the alert within a minute of starting (not after the
        # broker's visibility timeout, nor the next change)
        with celery_worker(queue, redis_url=redis.url, production=True, log=log):
            started = time.monotonic()
            wait_until(lambda: column_alert_open(world.board), timeout=60, what="the alert")
            took = time.monotonic() - started
    assert took < 60


def broker_idle(redis: RedisServer, queue: str) -> bool:
    """Nothing waits in the queue and nothing taken is unfinished (kombu's "unacked" hash)."""
    import redis as redis_py

    client = redis_py.Redis.from_url(redis.url)
    return client.llen(queue) == 0 and client.hlen("unacked") == 0


def _aware(epoch: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC)


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_logins_work_and_a_new_socket_is_told_why_it_cannot_be_live(world):
    _, token = create_api_token(user=world.bob)
    # The server runs the production hashers (the tests' fast MD5 is not among them).
    world.bob.password = PBKDF2PasswordHasher().encode("pw", "faultstestsalt")
    world.bob.save(update_fields=["password"])
    with RedisServer() as redis, asgi_server(redis_url=redis.url) as base:
        redis.stop()
        # the token endpoint and the login form keep working
        request = urllib.request.Request(
            f"{base}/api/v1/auth/token/",
            data=json.dumps({"username": "bob", "password": "pw"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=15) as response:
            assert response.status == 201 and json.loads(response.read())["token"]
        assert _login_form(base, "bob", "pw") == 302
        # a new websocket is accepted, told that live updates are down, and closed "try again
        # later", so the page says so and reconnects with backoff
        message, code = asyncio.run(_first_message_and_close(base, world.board.pk, token))
    assert message == {
        "type": "error",
        "code": "live_unavailable",
        "detail": "Live updates are unavailable right now; reconnecting shortly.",
    }
    assert code == 1013


def _login_form(base: str, username: str, password: str) -> int:
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirects())
    with opener.open(f"{base}/accounts/login/", timeout=15) as page:
        html = page.read().decode()
    csrf = html.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    body = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": csrf}
    ).encode()
    try:
        with opener.open(
            urllib.request.Request(f"{base}/accounts/login/", data=body, headers={"Referer": base}),
            timeout=15,
        ) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


async def _first_message_and_close(base: str, board_id: int, token: str):
    import websockets

    url = base.replace("http://", "ws://") + f"/ws/boards/{board_id}/"
    async with websockets.connect(
        url, additional_headers={"Authorization": f"Token {token}"}
    ) as ws:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None, "the server sent a close frame"
    return message, closed.value.rcvd.code
