"""Real servers for tests that need them: the ASGI app under uvicorn in a subprocess (HTTP and
websockets, on the test database) and a private redis-server that a test may stop and restart.

Tests using these must commit their data (`django_db(transaction=True)`): the server is another
process and sees only what is committed.
"""

import contextlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database pytest-django created for this run (test_...)."""
    settings = connection.settings_dict
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def wait_until(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"Timed out after {timeout}s waiting for {what}")


def stop_group(process: subprocess.Popen, *, timeout: float) -> None:
    """Stop a server started in a session of its own: SIGTERM to its process group, SIGKILL
    when it has not exited after `timeout` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


@contextlib.contextmanager
def asgi_server(
    *, redis_url: str | None = None, env: dict[str, str] | None = None, workers: int = 1
) -> Iterator[str]:
    """Run the app under uvicorn; yield its base URL (http://127.0.0.1:PORT)."""
    port = free_port()
    # An empty STATIC_ROOT unless the test collected one: a manifest left in the checkout by
    # an earlier collectstatic would name copies of static files older than the code's.
    static_root = tempfile.mkdtemp(prefix="obeya-static-")
    server_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kanban.settings",
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": redis_url
        if redis_url is not None
        else os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "DEBUG": "0",
        # The test process's key, so that sessions it creates are valid in the server.
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DB_POOL_MAX": "16",
        "LOG_LEVEL": "WARNING",
        # whitenoise: tests run no collectstatic, static files come from the finders
        "PYTHONWARNINGS": "ignore:No directory at",
        "STATIC_ROOT": static_root,
        # Alerts and metrics run in the server itself (test_celery_worker.py has a real worker)
        "CELERY_EAGER": "1",
        # Its own keys in the shared Redis: no counts or debounces left by an earlier server.
        "CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex[:12]}",
        **(env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "kanban.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            # As in production: the client's address is the peer's (kanban.clients).
            "--no-proxy-headers",
        ],
        cwd=ROOT,
        env=server_env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is not None or _answers(f"{base}/accounts/login/"),
            timeout=30,
            what=f"uvicorn on {port}",
        )
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        yield base
    finally:
        stop_group(process, timeout=10)
        shutil.rmtree(static_root, ignore_errors=True)


class RedisServer:
    """A private redis-server on its own port, which a test may stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="obeya-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._ping, timeout=10, what="redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def celery_worker(
    queue: str,
    *,
    redis_url: str | None = None,
    production: bool = False,
    log=None,
    name: str | None = None,
) -> Iterator[subprocess.Popen]:
    """A real Celery worker consuming `queue` on the test database: one process (solo), or
    with `production` the shape `make worker` runs (prefork, two children, gossip, mingle and
    heartbeats on), writing its log to `log` (a file) if given. Several workers on one broker
    need a `name` each (the node is `name@host`)."""
    worker_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kanban.settings",
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": redis_url or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "CELERY_QUEUE": queue,
        # The cache the test shares with it (the `queue` fixture of test_celery_worker.py)
        "CACHE_KEY_PREFIX": queue,
        "CELERY_EAGER": "0",
        "DB_POOL": "0",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "kanban",
            "worker",
            "-Q",
            queue,
            "--loglevel=WARNING",
            *(["--hostname", f"{name}@%h"] if name else []),
            *(
                ["--concurrency=2"]
                if production
                else [
                    "--pool=solo",
                    "--concurrency=1",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ]
            ),
        ],
        cwd=ROOT,
        env=worker_env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
    )
    try:
        yield process
    finally:
        stop_group(process, timeout=15)


NGINX = "/usr/sbin/nginx"
NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "obeya.conf.template"
NGINX_MISSING = (
    f"tests/test_production_shape.py needs Debian's nginx at {NGINX}: install it with "
    "'apt-get update && apt-get install -y nginx' (.ci/run does so when it is missing)."
)


def render_nginx_template(values: dict[str, str]) -> str:
    """deploy/nginx/obeya.conf.template with its ${NAME}s filled in, as the official nginx
    image's envsubst fills them: only the names given, nginx's own $variables untouched."""
    text = NGINX_TEMPLATE.read_text()
    missing = set(re.findall(r"\$\{(\w+)\}", text)) - set(values)
    if missing:
        raise KeyError(f"no value for {sorted(missing)} in {NGINX_TEMPLATE.name}")
    return re.sub(r"\$\{(\w+)\}", lambda match: values[match.group(1)], text)


class NginxServer:
    """Debian's nginx, not as a daemon, on deploy/nginx/obeya.conf.template filled in with
    `values` (all but OBEYA_LISTEN, which is a port of its own), inside a main configuration
    whose every path (pid, logs, temporary files) is in a directory of its own, so that it
    needs nothing of the system's nginx. `access_log` lists each request as
    `<client> "<request line>" <status> <upstream>` (`-` when nginx answered itself)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="obeya-nginx-"))
        self.access_log = self.dir / "access.log"
        self.error_log = self.dir / "error.log"
        self.process: subprocess.Popen | None = None
        site = render_nginx_template({**values, "OBEYA_LISTEN": f"127.0.0.1:{self.port}"})
        (self.dir / "obeya.conf").write_text(site)
        temp_paths = "\n".join(
            f"    {kind}_temp_path {self.dir / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (self.dir / "nginx.conf").write_text(
            # As root nginx's workers would run as nobody, who may not read pytest's tmp dirs.
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"""worker_processes 1;
pid {self.dir / "nginx.pid"};
error_log {self.error_log} warn;
events {{
    worker_connections 1024;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
{temp_paths}
    log_format upstreams '$remote_addr "$request" $status $upstream_addr';
    access_log {self.access_log} upstreams;
    include {self.dir / "obeya.conf"};
}}
"""
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def __enter__(self) -> "NginxServer":
        if not os.access(NGINX, os.X_OK):
            raise RuntimeError(NGINX_MISSING)
        conf, prefix, errors = str(self.dir / "nginx.conf"), str(self.dir), str(self.error_log)
        self.process = subprocess.Popen(
            # -e: the error log from the start, before the configuration names one
            [NGINX, "-p", prefix, "-e", errors, "-c", conf, "-g", "daemon off;"],
            cwd=self.dir,
            start_new_session=True,
        )
        try:
            wait_until(
                lambda: self.process.poll() is not None or self._listening(),
                timeout=10,
                what="nginx",
            )
        except BaseException:
            self.__exit__()
            raise
        if self.process.poll() is not None:
            errors = self.error_log.read_text() if self.error_log.exists() else ""
            self.__exit__()
            raise RuntimeError(f"nginx exited with {self.process.returncode}: {errors}")
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            # SIGTERM is nginx's fast shutdown: it does not wait for open websockets.
            stop_group(self.process, timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


PART_PAUSE = 0.05  # seconds raw_request waits for an early answer before each body part


def raw_request(
    base: str, request_line: str, headers: dict[str, str], body_parts: Iterable[bytes] = ()
) -> tuple[int, bytes, list[bytes]]:
    """An HTTP/1.1 request written byte for byte (Connection: close), the body sent in the
    given parts as they are; returns (status, response head, body parts): the chunks of a
    chunked response, else the body as one part."""
    host, port = base.removeprefix("http://").split(":")
    lines = [request_line, f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        for part in body_parts:
            # A server that has answered (a 413 part way through the body) closes: bytes sent
            # after that close come back as a reset, which can drop its answer unread. Give
            # it a moment after each part, and stop sending once the answer is there.
            if select.select([sock], [], [], PART_PAUSE)[0]:
                break
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
        raw = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, body = raw.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" not in head.lower():
        return int(head.split()[1]), head, [body]
    parts: list[bytes] = []
    while True:  # chunked transfer coding: size in hex, CRLF, data, CRLF
        size, _, body = body.partition(b"\r\n")
        if int(size, 16) == 0:
            return int(head.split()[1]), head, parts
        parts.append(body[: int(size, 16)])
        body = body[int(size, 16) + 2 :]
