"""How long a Trello import of a big board takes.

Builds a synthetic Trello JSON export of N cards (default 5,000) shaped like
tests/fixtures/trello_board.json: six lists (one closed), ten labels (one unnamed, two named
alike), five members, cards with Markdown descriptions, labels, members, due dates, a checklist
on every tenth, one in ten closed, one in twenty on the closed list, and 1,000 comments (a Trello
export holds at most the last 1,000 actions). Then POSTs it to
/api/v1/orgs/{slug}/import/trello/ through Django's test client as a member of the team (the
request's time is what the person waits for before the 202), starts a Celery worker (one
process) and follows the job through GET /api/v1/imports/{id}/ until it ends, printing its
progress, the job's own run time (started_at to finished_at) and what landed.

Runs on the bench database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
obeya_bench) and Redis (BENCH_REDIS_URL); the run's tasks go to a queue of its own, deleted at
the end, as is the organisation it made.

    .venv/bin/python bench/trello_import.py [--cards 5000] [--runs 1] [--write export.json]
"""

import argparse
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

QUEUE = f"bench-trello-{uuid.uuid4().hex[:8]}"
os.environ["CELERY_QUEUE"] = QUEUE
os.environ["CACHE_KEY_PREFIX"] = QUEUE

from common import BENCH_REDIS_URL, machine, setup_django, worker  # noqa: E402

LISTS = ["Backlog", "Ready", "Doing", "Code review", "Done", "Old sprint"]
COLORS = ["green", "yellow", "orange", "red", "purple", "blue", "sky", "lime", "pink", "black"]
WORDS = [
    *("customer", "invoice", "login", "search", "export", "billing", "onboarding", "report"),
    *("dashboard", "email", "payment", "profile", "settings", "mobile", "api", "sync"),
]


def trello_id(timestamp: int, n: int) -> str:
    """A Trello id: the creation time's Unix seconds in hex, then a counter."""
    return f"{timestamp:08x}{n:016x}"


def build_export(n_cards: int = 5000, *, seed: int = 7, comments: int = 1000) -> dict:
    rnd = random.Random(seed)
    start = 1_700_000_000  # November 2023
    lists = [
        {
            "id": trello_id(start, 100 + i),
            "name": name,
            "closed": name == "Old sprint",
            "pos": 16384 * (i + 1),
        }
        for i, name in enumerate(LISTS)
    ]
    labels = [
        {
            "id": trello_id(start, 200 + i),
            "name": "" if i == 2 else f"Label {i % 9}",
            "color": color,
        }
        for i, color in enumerate(COLORS)
    ]
    members = [
        {"id": trello_id(start, 300 + i), "fullName": f"Person {i}", "username": f"p{i}"}
        for i in range(5)
    ]
    cards, checklists = [], []
    for i in range(n_cards):
        card_id = trello_id(start + i * 600, 1000 + i)
        on_closed = i % 20 == 19
        words = " ".join(rnd.choice(WORDS) for _ in range(4))
        cards.append(
            {
                "id": card_id,
                "name": f"Card {i}: {words}",
                "desc": f"As a *customer* I want {words}.\n\n- one\n- two\n\n"
                f"See [the spec](https://example.com/{i}).",
                "idList": lists[5 if on_closed else i % 5]["id"],
                "closed": i % 10 == 3,
                "pos": rnd.randrange(1, 10_000_000),
                "idLabels": [labels[i % 10]["id"], labels[(i * 7) % 10]["id"]][: 1 + i % 2],
                "idMembers": [members[i % 5]["id"]] if i % 3 else [],
                "due": f"2024-0{1 + i % 9}-1{i % 10}T12:00:00.000Z" if i % 4 == 0 else None,
                "dateLastActivity": "2024-03-20T06:58:08.000Z",
                "badges": {"comments": 0, "attachments": 0},
            }
        )
        if i % 10 == 0:
            checklists.append(
                {
                    "id": trello_id(start, 500_000 + i),
                    "idCard": card_id,
                    "name": "Steps",
                    "pos": 16384,
                    "checkItems": [
                        {
                            "id": trello_id(start, 600_000 + i * 3 + j),
                            "name": f"Step {j}",
                            "pos": j,
                            "state": "complete" if j == 0 else "incomplete",
                        }
                        for j in range(3)
                    ],
                }
            )
    actions = []
    for n in range(comments):
        card = cards[rnd.randrange(n_cards)]
        member = members[n % 5]
        actions.append(
            {
                "id": trello_id(start + n_cards * 600 + n, 900_000 + n),
                "type": "commentCard",
                "date": f"2024-03-2{n % 9}T10:00:00.000Z",
                "data": {"text": f"Comment {n}: looks **good**.", "card": {"id": card["id"]}},
                "memberCreator": {"fullName": member["fullName"], "username": member["username"]},
            }
        )
    return {
        "id": trello_id(start, 1),
        "name": f"Synthetic board of {n_cards} cards",
        "lists": lists,
        "labels": labels,
        "members": members,
        "cards": cards,
        "checklists": checklists,
        "actions": actions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--write", help="also write the export to this file")
    args = parser.parse_args()

    export = build_export(args.cards)
    if args.write:
        Path(args.write).write_text(json.dumps(export))
    setup_django()
    import redis
    from django.test import Client

    from accounts.models import Organization, User
    from accounts.services import create_organization, create_team
    from boards.models import ImportJob
    from boards.services import trello

    Organization.objects.filter(slug="trello-bench").delete()
    user, _ = User.objects.get_or_create(username="trello-bench")
    org = create_organization(name="Trello bench", slug="trello-bench", actor=user)
    team = create_team(org, name="Importers", members=[user], actor=user)
    client = Client()
    client.force_login(user)
    body = json.dumps({"team": team.pk, "board": export})
    print(f"{machine()}; export of {args.cards} cards, {len(body) / 1e6:.1f} MB")
    process = worker(QUEUE)
    try:
        for run in range(args.runs):
            started = time.perf_counter()
            response = client.post(
                "/api/v1/orgs/trello-bench/import/trello/", body, content_type="application/json"
            )
            answered = time.perf_counter() - started
            job = response.json()
            print(f"run {run + 1}: {response.status_code} {job['status']} in {answered:.2f} s")
            samples = []
            while job["status"] in ("queued", "running"):
                time.sleep(0.5)
                job = client.get(job["url"]).json()
                samples.append((time.perf_counter() - started, job["progress"]["done"]))
            ended = time.perf_counter() - started
            row = ImportJob.objects.get(pk=job["id"])
            took = (row.finished_at - row.started_at).total_seconds()
            marks = [f"{done} at {at:.0f} s" for at, done in samples[:: max(len(samples) // 8, 1)]]
            print(f"  progress: {', '.join(marks)}")
            print(
                f"  {job['status']} {ended:.1f} s after the POST; the job ran {took:.1f} s "
                f"({row.total // trello.CHUNK + 1} chunks); {job['counts'] or job['error']}"
            )
    finally:
        process.terminate()
        process.wait(timeout=30)
        redis.Redis.from_url(BENCH_REDIS_URL).delete(QUEUE)
        Organization.objects.filter(slug="trello-bench").delete()


if __name__ == "__main__":
    main()
