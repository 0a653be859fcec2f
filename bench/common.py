"""Shared set-up for the benchmarks: a dedicated Postgres database, a board with cards, API
tokens, and uvicorn processes serving the app on it. Run from the repository root with the
project's virtualenv, e.g. `.venv/bin/python bench/ws_fanout.py`."""

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/obeya_bench"
)
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def setup_django() -> None:
    os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
    os.environ["REDIS_URL"] = BENCH_REDIS_URL
    os.environ.setdefault("SECRET_KEY", "bench-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    _ensure_database()
    _ensure_redis()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _ensure_redis() -> None:
    """A bench without its Redis measures connection errors (every move retries the channel
    layer, the cache and the broker): refuse to start instead."""
    import redis

    try:
        redis.Redis.from_url(BENCH_REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        port = BENCH_REDIS_URL.rsplit(":", 1)[1].split("/")[0]
        sys.exit(
            f"BENCH_REDIS_URL={BENCH_REDIS_URL} is not answering ({exc}): start one, e.g."
            f' `redis-server --daemonize yes --port {port} --save ""`'
        )


def _ensure_database() -> None:
    import psycopg

    name = BENCH_DATABASE_URL.rsplit("/", 1)[1]
    base = BENCH_DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(base, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def vacuum() -> None:
    """VACUUM ANALYZE the bench database, as autovacuum would keep it (Postgres' default: on)
    where it is off, as on this workplace's machines: every move leaves a dead version of a
    card, its cell and its board behind, and the index scans of a board's cards walk them all
    until a vacuum."""
    import psycopg

    with psycopg.connect(BENCH_DATABASE_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def make_board(n_cards: int = 60, *, name: str = "bench"):
    """A fresh organisation with one board of `n_cards` spread over its columns, and an owner's
    API token. Returns (board_id, token, column_ids, card_ids)."""
    from accounts.models import Organization, User
    from accounts.services import create_api_token, create_organization, create_team
    from boards import services

    Organization.objects.filter(slug=f"{name}-org").delete()
    user, _ = User.objects.get_or_create(username=f"{name}-owner")
    org = create_organization(name=f"{name} org", slug=f"{name}-org", actor=user)
    team = create_team(org, name="Bench", members=[user], actor=user)
    board = services.create_board(team=team, name=f"{name} board", actor=user)
    columns = list(board.columns.order_by("position"))
    cards = [
        services.create_card(
            board, title=f"card {i}", column=columns[i % len(columns)], actor=user
        ).pk
        for i in range(n_cards)
    ]
    _, token = create_api_token(user=user, name="bench")
    return board.pk, token, [c.pk for c in columns], cards


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def servers(
    count: int, *, workers: int = 1, env: dict[str, str] | None = None, server: str = "uvicorn"
):
    """`count` ASGI server processes (uvicorn, each with `workers` workers, or daphne — not a
    dependency: `pip install daphne` to compare) on the bench database."""
    processes, urls = [], []
    for _ in range(count):
        port = free_port()
        server_env = {
            **os.environ,
            "DATABASE_URL": BENCH_DATABASE_URL,
            "REDIS_URL": BENCH_REDIS_URL,
            "DEBUG": "0",
            "SECRET_KEY": "bench",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "kanban.settings",
            # The benches drive one token far past any sensible rate limit: they measure the
            # server, not the limits (which still count every request, as in production).
            "API_RATE_TOKEN": "10000000/min",
            "API_RATE_USER": "10000000/min",
            **(env or {}),
        }
        if server == "daphne":
            command = [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "-v",
                "0",
                "kanban.asgi:application",
            ]
        else:
            command = [
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
                "--no-proxy-headers",
            ]
        processes.append(
            subprocess.Popen(command, cwd=ROOT, env=server_env, start_new_session=True)
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            deadline = time.time() + 30
            while True:
                try:
                    urllib.request.urlopen(f"{url}/accounts/login/", timeout=1)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.2)
        yield urls
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=15)


def worker(queue: str) -> subprocess.Popen:
    """A Celery worker (one process) consuming `queue` on the bench database."""
    env = {
        **os.environ,
        "DATABASE_URL": BENCH_DATABASE_URL,
        "REDIS_URL": BENCH_REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "kanban.settings",
        "SECRET_KEY": "bench",
        "DEBUG": "0",
        "CELERY_QUEUE": queue,
        # The cache where the web side and the worker coordinate queued runs: one per bench
        # run, so that keys left by an earlier run (another database) hold nothing back.
        "CACHE_KEY_PREFIX": queue,
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "kanban",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )


def machine() -> str:
    cpus = os.cpu_count()
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        mem_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        mem = "?"
    return f"{platform.node()}: {cpus} cores, {mem}, Python {platform.python_version()}"


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def post_json(conn, path: str, token: str, body: dict) -> tuple[int, dict]:
    conn.request(
        "POST",
        path,
        body=json.dumps(body),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    data = response.read()
    return response.status, json.loads(data or b"{}")
