"""How fast the organisation overview answers for an organisation of 200 boards.

Builds (once, then reuses) an organisation of 200 boards over 10 teams on the bench database
(BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/obeya_bench), each with a few
cards through the services (some finished over the last eight weeks, some in progress against
WIP limits, some blocked) and its metrics snapshot refreshed. Then it requests
GET /api/v1/orgs/{slug}/overview/ N times through Django's test client and prints the median,
p95 and worst time and the query count, and appends them to bench/RESULTS.md under
"Org overview (200 boards)".

    .venv/bin/python bench/overview_bench.py [--boards 200] [--requests 50] [--no-write]
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, percentile, setup_django

SLUG = "overview-bench"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## Org overview (200 boards)"


def build(n_boards: int):
    """The bench organisation and its owner; rebuilt only if it does not hold `n_boards`."""
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Organization, User
    from accounts.services import create_organization, create_team
    from boards import services
    from boards.flow import metrics
    from boards.models import Board
    from kanban.celery import app

    owner, _ = User.objects.get_or_create(
        username="overview-owner", defaults={"first_name": "Olga", "last_name": "Owner"}
    )
    if Board.objects.filter(organization__slug=SLUG).count() == n_boards:
        return Organization.objects.get(slug=SLUG), owner

    # Build in-process: a bench must not leave thousands of tasks queued in Redis.
    app.conf.task_always_eager = True
    started = time.perf_counter()
    Organization.objects.filter(slug=SLUG).delete()
    now = timezone.now()
    with transaction.atomic():
        org = create_organization(name="Overview bench", slug=SLUG, actor=owner)
        teams = [
            create_team(org, name=f"Team {t:02d}", members=[owner], actor=owner) for t in range(10)
        ]
        for i in range(n_boards):
            board = services.create_board(
                team=teams[i % len(teams)], name=f"Board {i:03d}", actor=owner
            )
            col = {c.name: c for c in board.columns.all()}
            services.update_column(col["Doing"], wip_limit=2 + i % 3, actor=owner)
            for k in range(4):  # finished over the last eight weeks
                done_at = now - timedelta(days=2 + (i * 7 + k * 13) % 54)
                card = services.create_card(
                    board,
                    title=f"done {k}",
                    column=col["Ready"],
                    actor=owner,
                    at=done_at - timedelta(days=1 + (i + k) % 9),
                )
                services.move_card(
                    card, to_column=col["Doing"], actor=owner, at=done_at - timedelta(days=1)
                )
                card.refresh_from_db()
                services.move_card(card, to_column=col["Done"], actor=owner, at=done_at)
            for k in range(3):  # work in progress
                card = services.create_card(
                    board, title=f"wip {k}", column=col["Doing"], actor=owner
                )
                if (i + k) % 7 == 0:
                    services.block_card(card, reason="Waiting", actor=owner)
    for board_id in Board.objects.filter(organization=org).values_list("pk", flat=True):
        metrics.refresh_snapshot(board_id)
    # Fresh statistics, as autovacuum would soon have them: with a stale row count for the
    # organisation's boards the planner scans every card of the database instead.
    with connection.cursor() as cursor:
        for table in (
            "boards_board",
            "boards_column",
            "boards_card",
            "boards_block",
            "boards_alert",
            "boards_metricssnapshot",
        ):
            cursor.execute(f"ANALYZE {table}")
    print(f"built {n_boards} boards in {time.perf_counter() - started:.0f} s", flush=True)
    return org, owner


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--boards", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--no-write", action="store_true", help="print only, no RESULTS.md")
    args = parser.parse_args()

    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from accounts.services import create_api_token
    from boards.flow.overview import org_overview

    org, owner = build(args.boards)
    _, key = create_api_token(user=owner, name="overview-bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    url = f"/api/v1/orgs/{SLUG}/overview/"
    assert client.get(url).status_code == 200  # warm up (and the token's first use)

    times = []
    for _ in range(args.requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    rows = len(response.json()["boards"])
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    selector = []
    for _ in range(args.requests):
        started = time.perf_counter()
        org_overview(org)
        selector.append((time.perf_counter() - started) * 1000)

    median, p95, worst = statistics.median(times), percentile(times, 0.95), max(times)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    line = (
        f"- {stamp}, {machine()}: {rows} boards (10 teams, 7 cards each, snapshots "
        f"refreshed), {args.requests} requests of `GET /api/v1/orgs/{{slug}}/overview/` "
        f"through Django's test client: median {median:.1f} ms, p95 {p95:.1f} ms, worst "
        f"{worst:.1f} ms, {len(queries)} queries a request; `org_overview()` alone: median "
        f"{statistics.median(selector):.1f} ms."
    )
    print(line)
    if not args.no_write:
        append_result(line)


def append_result(line: str) -> None:
    """Add the line under the heading, creating the file or the section if missing; other
    sections are left as they are."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if HEADING not in text:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n"
        text += (
            "`.venv/bin/python bench/overview_bench.py`: the overview reads seven GROUP BY "
            "queries and the stored snapshots, whatever the number of boards (asserted in "
            "tests/test_overview.py).\n\n"
        )
        text += line + "\n"
    else:
        start = text.index(HEADING)
        nxt = text.find("\n## ", start + len(HEADING))
        end = len(text) if nxt == -1 else nxt
        section = text[start:end].rstrip("\n") + "\n" + line + "\n"
        text = text[:start] + section + ("\n" + text[end:].lstrip("\n") if nxt != -1 else "")
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
