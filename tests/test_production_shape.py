"""The production shape, really run on this machine: Debian's nginx on
deploy/nginx/obeya.conf.template in front of two uvicorn processes (TRUSTED_PROXY_COUNT=1),
two prefork Celery workers and a private Redis shared by all of them, on the test database.
Every request of these tests goes through nginx's port; the web processes' own ports are only
read in nginx's access log, to see which one served what (and once to show what nginx spares
them). docker-compose.yml, which cannot run here (no Docker engine), is checked for the same
shape."""

import asyncio
import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import redis
import websockets
import yaml
from celery import Celery
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from websockets.typing import Origin

from accounts.services import create_api_token
from boards import services
from tests.servers import (
    NGINX,
    NGINX_MISSING,
    ROOT,
    NginxServer,
    RedisServer,
    asgi_server,
    celery_worker,
    render_nginx_template,
    wait_until,
)
from tests.test_static_modules import imports_of
from tests.ws_client import BoardViewer, wait_for

live = pytest.mark.django_db(transaction=True)
PASSWORD = "pw"
LOGIN_RATE = 5  # password tries a minute per address, on the token endpoint


@dataclass
class Shape:
    nginx: NginxServer
    web_ports: set[str]
    redis_url: str
    queue: str
    workers: list[str]  # Celery node names

    @property
    def url(self) -> str:
        return self.nginx.url

    def served(self, pattern: str, *, at_least: int = 0) -> list[str]:
        """The upstream's port (or `-`: nginx answered itself) of each logged request whose
        line matches `pattern`, in order; once `at_least` are logged (nginx writes a line
        just after the answer, a websocket's when it closes)."""

        def ports() -> list[str]:
            return [
                line.rsplit(" ", 1)[1].rsplit(":", 1)[-1]
                for line in self.nginx.log_lines()
                if re.search(pattern, line)
            ]

        wait_until(lambda: len(ports()) >= at_least, timeout=10, what=f"{at_least} x {pattern}")
        return ports()


def collectstatic(static_root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "kanban.settings",
            "SECRET_KEY": settings.SECRET_KEY,
            "STATIC_ROOT": str(static_root),
        },
    )


@contextlib.contextmanager
def broker(redis_url: str) -> Iterator[Celery]:
    """A bare Celery app on the private broker, to send tasks by name and ask the workers
    (kanban's app is configured for the test settings' broker, and its control commands
    listen for replies there whatever connection they are given)."""
    app = Celery("shape-probe", broker=redis_url, set_as_current=False)
    try:
        yield app
    finally:
        app.close()


def worker_stats(redis_url: str, names: list[str]) -> dict[str, Any]:
    """`celery inspect stats` of the workers called `names` (nodes `name@host`) that answer."""
    with broker(redis_url) as app:
        stats = app.control.inspect(timeout=1.0).stats() or {}
    return {node: s for node, s in stats.items() if node.split("@")[0] in names}


@pytest.fixture(scope="module")
def shape(django_db_setup, tmp_path_factory) -> Iterator[Shape]:
    """nginx, two web processes and two workers on one private Redis, started once for this
    module (~15 s); each test brings its own data (`world`), removed after it."""
    if not os.access(NGINX, os.X_OK):
        pytest.fail(NGINX_MISSING)
    tmp = tmp_path_factory.mktemp("shape")
    static_root = tmp / "static"
    queue = f"shape-{uuid.uuid4().hex[:8]}"
    workers = [f"{queue}-a", f"{queue}-b"]
    with contextlib.ExitStack() as stack:
        redis_server = stack.enter_context(RedisServer())
        collecting = collectstatic(static_root)
        for name in workers:  # they boot while the rest starts
            log = stack.enter_context(open(tmp / f"{name}.log", "w"))
            stack.enter_context(
                celery_worker(
                    queue, redis_url=redis_server.url, production=True, log=log, name=name
                )
            )
        assert collecting.wait(60) == 0, "collectstatic failed"
        env = {
            "CELERY_EAGER": "0",
            "CELERY_QUEUE": queue,
            "CACHE_KEY_PREFIX": queue,
            "TRUSTED_PROXY_COUNT": "1",
            "STATIC_ROOT": str(static_root),
            "LOGIN_RATE": f"{LOGIN_RATE}/min",
        }
        webs = [
            stack.enter_context(asgi_server(redis_url=redis_server.url, env=env)) for _ in range(2)
        ]
        nginx = stack.enter_context(
            NginxServer(
                {
                    "OBEYA_WEB_1": webs[0].removeprefix("http://"),
                    "OBEYA_WEB_2": webs[1].removeprefix("http://"),
                    "OBEYA_STATIC_ROOT": str(static_root),
                    "OBEYA_MAX_REQUEST_BYTES": str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE),
                    "OBEYA_IMPORT_MAX_BYTES": str(settings.IMPORT_MAX_BYTES),
                }
            )
        )
        wait_until(
            lambda: len(worker_stats(redis_server.url, workers)) == 2,
            timeout=60,
            interval=0.5,
            what="both Celery workers",
        )
        ports = {str(urlsplit(web).port) for web in webs}
        yield Shape(nginx, ports, redis_server.url, queue, workers)


# --- HTTP through nginx ------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def call(
    base: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    json_body: dict | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    source: str | None = None,
) -> Answer:
    """One request, from the loopback address `source` if given (127.0.0.2: a client nginx
    tells apart from itself, 127.0.0.1)."""
    parts = urlsplit(base)
    assert parts.hostname is not None, base
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=30, source_address=(source, 0) if source else None
    )
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Token {token}"
    if json_body is not None:
        body = json.dumps(json_body).encode()
        sent.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def cookies_of(answer: Answer) -> dict[str, str]:
    jar = SimpleCookie()
    for header in answer.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def log_in(base: str, username: str) -> dict[str, str]:
    """Log in on the page as a browser does (CSRF cookie and token, Origin); the cookies."""
    page = call(base, "GET", "/accounts/login/")
    cookies = cookies_of(page)
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
    assert found is not None, "the login page has a CSRF token"
    csrf = found.group(1)
    answer = call(
        base,
        "POST",
        "/accounts/login/",
        body=urlencode(
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf.decode()}
        ).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookies['csrftoken']}",
            "Origin": base,
        },
    )
    assert answer.status == 302, answer.body[:500]
    return {**cookies, **cookies_of(answer)}


def production_password(user) -> None:
    # The servers run the production settings (PBKDF2); the test settings hash with MD5.
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "shapetestsalt")
    user.save(update_fields=["password"])


@live
def test_the_board_page_its_static_files_and_the_api_answer_through_nginx(world, shape):
    production_password(world.alice)
    _, token = create_api_token(user=world.alice)
    board = world.board.pk

    # when: a browser logs in and opens the board, through nginx's port
    cookies = log_in(shape.url, "alice")
    session = "; ".join(f"{name}={value}" for name, value in cookies.items())
    page = call(shape.url, "GET", f"/boards/{board}/", headers={"Cookie": session})

    # then: the page, naming its static files by their content, which nginx serves itself
    assert page.status == 200
    assert b"data-column-id" in page.body
    script = re.search(rb'src="(/static/js/board/index\.[0-9a-f]{12}\.js)"', page.body)
    assert script, "the page does not name the collected, hashed board module"
    static = call(shape.url, "GET", script.group(1).decode(), headers={"Accept-Encoding": "gzip"})
    assert static.status == 200
    assert static.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert static.headers["Content-Encoding"] == "gzip"  # collectstatic's .gz
    plain = call(shape.url, "GET", "/static/js/board/index.js")
    assert plain.status == 200 and plain.headers["Cache-Control"] == "public, max-age=60"
    # the page's modules (alice may write: drag.js too) and all they import, as the browser
    # asks for them: hashed, from nginx, for a year
    entries = re.findall(rb'<script type="module" src="(/static/js/[^"]+)"', page.body)
    assert len(entries) == 2
    modules, todo = set(), [entry.decode() for entry in entries]
    while todo:
        url = todo.pop()
        if url in modules:
            continue
        modules.add(url)
        answer = call(shape.url, "GET", url)
        assert answer.status == 200, url
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
        assert answer.headers["Content-Type"].startswith(
            ("text/javascript", "application/javascript")
        )
        todo += [urljoin(url, i) for i in imports_of(answer.body.decode())]
    assert len(modules) >= 12 and any("/lib/socket." in m for m in modules)
    assert any("/vendor/sortablejs/modular/sortable.esm." in m for m in modules)
    # no web process saw them (the entry was asked for twice, and by its plain name)
    statics = rf"GET ({'|'.join(re.escape(m) for m in modules)}|/static/js/board/index\.js) "
    assert set(shape.served(statics, at_least=len(modules) + 2)) == {"-"}

    # and the API, with a token, from both web processes in turn
    for _ in range(4):
        answer = call(shape.url, "GET", f"/api/v1/boards/{board}/", token=token)
        assert answer.status == 200
        assert [c["name"] for c in answer.json()["columns"]][:2] == ["Backlog", "Ready"]
    assert set(shape.served(rf"GET /api/v1/boards/{board}/ ", at_least=4)) == shape.web_ports

    # and a browser's websocket (its session cookie, the page's origin: the Host nginx passed
    # on, port and all, is what the origin is checked against)
    async def hello(origin: str, path: str = f"/ws/boards/{board}/") -> dict:
        async with websockets.connect(
            shape.url.replace("http", "ws") + path,
            additional_headers={"Cookie": session},
            origin=Origin(origin),
            open_timeout=10,
        ) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    assert asyncio.run(hello(shape.url))["type"] == "hello"
    # and the global board's one socket, the organisation's, through nginx too
    assert asyncio.run(hello(shape.url, "/ws/orgs/acme/"))["org"] == "acme"
    with pytest.raises(websockets.InvalidStatus):
        asyncio.run(hello("http://127.0.0.1:9999"))


class RecordingViewer(BoardViewer):
    """A viewer that also keeps every event it was sent."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[dict] = []

    async def _handle(self, ws, message: dict) -> None:
        if "seq" in message and message.get("type") not in ("hello", "pong"):
            self.events.append(message)
        await super()._handle(ws, message)

    def got(self, kind: str, seq: int) -> bool:
        return any(e["type"] == kind and e["seq"] == seq for e in self.events)


@live
def test_a_move_through_nginx_reaches_viewers_on_both_web_processes_and_so_does_the_alert(
    world, shape
):
    # given: Doing at its soft limit of one; six viewers connected through nginx
    doing = world.column("Doing")
    services.update_column(doing, wip_limit=1, actor=world.alice)
    services.create_card(world.board, title="in progress", column=doing, actor=world.alice)
    card = services.create_card(
        world.board, title="next", column=world.column("Ready"), actor=world.alice
    )
    _, token = create_api_token(user=world.bob)
    accepted = r'"GET /ws/\S+ HTTP/1.1" 101 '
    sockets_before = len(shape.served(accepted))

    async def scenario() -> tuple[list[RecordingViewer], int]:
        viewers = [
            RecordingViewer(shape.url, world.board.pk, token=token, name=f"v{i}") for i in range(6)
        ]
        for viewer in viewers:
            viewer.start()
        await asyncio.gather(*(v.wait_connected() for v in viewers))

        # when: a move over the limit, through nginx
        answer = await asyncio.to_thread(
            call, shape.url, "POST", f"/api/v1/cards/{card.pk}/move/",
            token=token, json_body={"column": doing.pk},
        )  # fmt: skip
        assert answer.status == 200, answer.body
        seq = answer.json()["seq"]

        # then: every viewer sees the move, and then the alert a worker raised
        await wait_for(
            lambda: all(v.got("card.moved", seq) for v in viewers), timeout=10, what="the move"
        )
        await wait_for(
            lambda: all(any(e["type"] == "alert.raised" for e in v.events) for v in viewers),
            timeout=30,
            what="the WIP alert from a worker",
        )
        for viewer in viewers:
            await viewer.stop()
        return viewers, seq

    viewers, seq = asyncio.run(scenario())
    alert = next(e for e in viewers[0].events if e["type"] == "alert.raised")
    assert alert["seq"] > seq
    assert alert["data"]["alert"]["kind"] == "wip_column"
    assert all(v.resyncs == 0 for v in viewers)

    # and the six sockets were shared by both web processes (nginx logs one when it closes)
    upstreams = shape.served(accepted, at_least=sockets_before + 6)[sockets_before:]
    assert set(upstreams) == shape.web_ports
    assert sorted(upstreams.count(port) for port in shape.web_ports) == [3, 3]  # least_conn


@live
def test_the_login_rate_counts_the_address_nginx_saw_whatever_the_client_wrote(world, shape):
    # given: a client at 127.0.0.2 trying passwords, claiming another address each time, in
    # the header nginx appends to and in one that reads like it to a WSGI app
    def try_password(source: str, i: int) -> Answer:
        return call(
            shape.url,
            "POST",
            "/api/v1/auth/token/",
            json_body={"username": "alice", "password": "wrong"},
            headers={"X-Forwarded-For": f"10.0.0.{i}", "X_Forwarded_For": f"10.1.0.{i}"},
            source=source,
        )

    answers = [try_password("127.0.0.2", i) for i in range(LOGIN_RATE + 1)]

    # then: it runs out of tries all the same
    assert [a.status for a in answers[:LOGIN_RATE]] == [400] * LOGIN_RATE
    assert answers[-1].status == 429 and answers[-1].json()["code"] == "throttled"
    # and another client (127.0.0.3) is not held back by it: the web processes count the
    # address nginx saw, not nginx's own
    assert try_password("127.0.0.3", 0).status == 400
    counted = redis.Redis.from_url(shape.redis_url).keys(f"{shape.queue}:count:login:address:*")
    assert {key.decode().rsplit(":", 1)[1] for key in counted} == {"127.0.0.2", "127.0.0.3"}

    # and a client claiming HTTPS over plain http is not believed: nginx replaces the header
    # (a web process, trusting its proxy, would believe it and send HSTS)
    claim = {"X-Forwarded-Proto": "https"}
    web = f"http://127.0.0.1:{min(shape.web_ports)}"
    through_nginx = call(shape.url, "GET", "/accounts/login/", headers=claim)
    assert "Strict-Transport-Security" not in through_nginx.headers
    assert (
        "Strict-Transport-Security" in call(web, "GET", "/accounts/login/", headers=claim).headers
    )


@live
def test_bodies_are_limited_at_nginx_as_the_app_limits_them_in_the_apps_json(world, shape):
    too_large = b" " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    # an ordinary path: refused by nginx, never read by a web process, in the API's JSON
    answer = call(
        shape.url, "POST", "/api/v1/boards/", body=too_large,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status == 413
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["code"] == "payload_too_large"
    assert "client intended to send too large body" in shape.nginx.error_log.read_text()

    # the Trello import may send more: nginx passes it on, and the app answers (no token)
    answer = call(
        shape.url, "POST", "/api/v1/orgs/acme/import/trello/", body=too_large,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status == 401 and answer.json()["code"] == "not_authenticated"


def test_both_workers_take_tasks_from_the_queue(shape):
    """Tasks sent until each worker has run some (an idle pair shares a burst within one or
    two rounds); the workers' own counts, from `celery inspect stats`."""

    def ran() -> dict[str, int]:
        stats = worker_stats(shape.redis_url, shape.workers)
        return {node: s["total"].get("boards.check_ageing", 0) for node, s in stats.items()}

    deadline = time.monotonic() + 30
    with broker(shape.redis_url) as app:
        while time.monotonic() < deadline:
            for _ in range(8):
                app.send_task("boards.check_ageing", queue=shape.queue)
            time.sleep(1)
            counts = ran()
            if len(counts) == 2 and all(counts.values()):
                break
    assert {node.split("@")[0] for node, n in counts.items() if n} == set(shape.workers), counts


# --- docker-compose.yml: the same shape for users' machines ------------------------------------


def test_docker_compose_puts_nginx_in_front_of_two_web_processes_two_workers_and_one_beat():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services_ = compose["services"]
    nginx = services_["nginx"]

    # nginx: the only port, on the repository's template, filled in by the image's envsubst
    assert nginx["image"].startswith("nginx:")
    assert [s for s, service in services_.items() if service.get("ports")] == ["nginx"]
    mounts = [m.split(":")[:2] for m in nginx["volumes"]]
    assert ["./deploy/nginx/obeya.conf.template", "/etc/nginx/templates/default.conf.template"] in (
        mounts
    )
    env = nginx["environment"]
    render_nginx_template({**env, "OBEYA_LISTEN": "80"})  # every ${NAME} has a value
    assert {env["OBEYA_WEB_1"], env["OBEYA_WEB_2"]} == {"web-1:8000", "web-2:8000"}
    assert ["static", env["OBEYA_STATIC_ROOT"]] in mounts

    # two web processes behind it, trusting it alone, on the static files collectstatic wrote
    for name in ("web-1", "web-2"):
        web = services_[name]
        assert "--no-proxy-headers" in web["command"] and "--workers" not in web["command"]
        assert web["environment"]["TRUSTED_PROXY_COUNT"] == "1"
        assert web["restart"] == "unless-stopped"
        assert "static:/app/staticfiles:ro" in web["volumes"]
    assert services_["static"]["command"][-2:] == ["collectstatic", "--no-input"]
    assert "static:/app/staticfiles" in services_["static"]["volumes"]
    assert set(nginx["depends_on"]) == {"web-1", "web-2", "static"}

    # two workers, one beat
    assert services_["worker"]["deploy"]["replicas"] == 2
    beats = [s for s, service in services_.items() if "beat" in service.get("command", [])]
    assert beats == ["beat"] and services_["beat"].get("deploy", {}).get("replicas", 1) == 1
    for name in ("nginx", "worker", "beat", "postgres", "redis"):
        assert services_[name]["restart"] == "unless-stopped", name
    assert "static" in compose["volumes"]
