"""Fail fast, with a sentence a person understands, when the test suite's Postgres or Redis is
not reachable, or Chromium (for the browser tests) or nginx (for the production shape's test)
is not installed, instead of a page of tracebacks from the first test or tests silently
skipped."""

import os
import sys
from urllib.parse import urlparse


def check_postgres(url: str) -> str | None:
    import psycopg

    parsed = urlparse(url)
    try:
        # The server is what matters: the test database is created by the test run.
        with psycopg.connect(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            password=parsed.password,
            dbname="postgres",
            connect_timeout=3,
        ):
            return None
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        where = f"{parsed.hostname}:{parsed.port or 5432}"
        return f"Postgres is not reachable at {where} ({first_line})."


def check_redis(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
        return None
    except Exception as exc:
        return f"Redis is not reachable at {url} ({exc})."


CHROMIUM = "/usr/bin/chromium"


def check_chromium() -> str | None:
    if os.access(CHROMIUM, os.X_OK):
        return None
    return (
        f"the browser tests need Chromium at {CHROMIUM}: install it with "
        "'apt-get update && apt-get install -y chromium' (.ci/run does so when it is missing)."
    )


NGINX = "/usr/sbin/nginx"


def check_nginx() -> str | None:
    if os.access(NGINX, os.X_OK):
        return None
    return (
        f"tests/test_production_shape.py needs Debian's nginx at {NGINX}: install it with "
        "'apt-get update && apt-get install -y nginx' (.ci/run does so when it is missing)."
    )


def main() -> int:
    for missing in (check_chromium(), check_nginx()):
        if missing:
            print(f"make test: {missing}", file=sys.stderr)
            return 1
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    problems: list[str | None] = []
    if not database_url.startswith(("postgres://", "postgresql://")):
        problems.append("DATABASE_URL must point at Postgres for the tests.")
    else:
        problems.append(check_postgres(database_url))
    if not redis_url:
        problems.append("REDIS_URL must point at Redis for the tests.")
    else:
        problems.append(check_redis(redis_url))
    problems = [p for p in problems if p]
    if problems:
        for problem in problems:
            print(f"make test: {problem}", file=sys.stderr)
        print(
            "make test runs against real Postgres and Redis: start them (see DEVELOPERS.md) "
            "or set DATABASE_URL and REDIS_URL.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
