"""How long the board page of a 1,000-card board takes to render on the server.

Builds (once, then reuses) a board of 1,000 live cards through the services on the bench
database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/obeya_bench), then
renders /boards/{id}/ N times through Django's test client as the board's owner and prints the
median, p95 and worst time, the page's size and its query count. The snapshot selector alone is
timed too, to show what the templates cost.

    .venv/bin/python bench/board_page.py [--cards 1000] [--renders 50]
"""

import argparse
import platform
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import percentile, setup_django


def build(n_cards: int):
    """The bench board: the default columns with limits, two lanes, labels, people, and cards
    spread over every cell; some blocked, some finished (so the ageing cue has a cycle time)."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Organization, User
    from accounts.services import add_member, create_organization, create_team
    from boards import services
    from boards.models import Board, ClassOfService
    from kanban.celery import app

    name = f"board-page-{n_cards}"
    board = Board.objects.filter(name=name, organization__slug="board-page-bench").first()
    if board is not None and board.cards.filter(archived=False).count() == n_cards:
        return board, board.team.members.order_by("pk").first()

    # Build in-process: a bench must not leave a thousand tasks queued in Redis.
    app.conf.task_always_eager = True
    started = time.perf_counter()
    Organization.objects.filter(slug="board-page-bench").delete()
    owner, _ = User.objects.get_or_create(
        username="board-page-owner", defaults={"first_name": "Olga", "last_name": "Owner"}
    )
    with transaction.atomic():
        org = create_organization(name="Board page bench", slug="board-page-bench", actor=owner)
        people = [owner]
        for i in range(5):
            user, _ = User.objects.get_or_create(
                username=f"board-page-{i}", defaults={"first_name": f"P{i}", "last_name": "X"}
            )
            add_member(org, user=user, actor=owner)
            people.append(user)
        team = create_team(org, name="Bench", members=people, actor=owner)
        board = services.create_board(
            team=team, name=name, swimlanes=("Expedite", "Standard"), actor=owner
        )
        columns = list(board.columns.order_by("position"))
        lanes = list(board.swimlanes.order_by("position"))
        labels = [
            services.create_label(board, name=label, actor=owner)
            for label in ("feature", "bug", "debt", "ux")
        ]
        start = timezone.now() - timedelta(days=60)
        for i in range(n_cards):
            card = services.create_card(
                board,
                title=f"Card {i}: onboard customer {i % 97}",
                description="Some *markdown* and a [link](https://example.com).",
                column=columns[0],
                swimlane=lanes[0] if i % 25 == 0 else lanes[1],
                assignees=[people[i % len(people)]] if i % 3 else [],
                labels=[labels[i % len(labels)]] if i % 2 else [],
                value=i % 101,
                class_of_service=ClassOfService.EXPEDITE if i % 25 == 0 else "standard",
                actor=owner,
                at=start,
            )
            target = columns[i % len(columns)]
            if target != columns[0]:
                services.move_card(
                    card, to_column=target, actor=owner, at=start + timedelta(days=1 + i % 9)
                )
            if i % 37 == 0:
                services.block_card(card, reason="Waiting for the customer", actor=owner)
    print(f"built {n_cards} cards through the services in {time.perf_counter() - started:.0f} s")
    return board, owner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--renders", type=int, default=50)
    args = parser.parse_args()

    setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from boards import selectors

    board, owner = build(args.cards)
    client = Client()
    client.force_login(owner)
    url = f"/boards/{board.pk}/"
    for _ in range(3):  # warm up: template loading, connection, caches
        assert client.get(url).status_code == 200

    times, size = [], 0
    for _ in range(args.renders):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        size = len(response.content)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)

    snapshot_times = []
    for _ in range(args.renders):
        started = time.perf_counter()
        selectors.board_snapshot(board)
        selectors.typical_cycle_time_days(board.pk)
        snapshot_times.append((time.perf_counter() - started) * 1000)

    print(f"board page, {args.cards} cards, {args.renders} renders on {connection.vendor}")
    print(f"  page:     median {statistics.median(times):.0f} ms, "
          f"p95 {percentile(times, 0.95):.0f} ms, max {max(times):.0f} ms, "
          f"{size / 1024:.0f} KiB, {len(queries)} queries")  # fmt: skip
    print(f"  snapshot: median {statistics.median(snapshot_times):.0f} ms, "
          f"p95 {percentile(snapshot_times, 0.95):.0f} ms (selectors only)")  # fmt: skip
    print(f"  machine:  {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")  # fmt: skip


if __name__ == "__main__":
    main()
