"""How long after a change commits does a webhook receiver have it?

Production shape: uvicorn (tasks not eager), a real Celery worker (solo pool) on Redis, and a
receiving HTTP server in this process (tests/hook_receiver.py, which checks every signature).
Each round moves a card through the REST API and waits for the receiver to get the
`card.moved` delivery. The delay is measured from the API's answer (the commit happened just
before it: this slightly under-states the delay) and from the event's `at` (taken inside the
transaction, before the commit: this over-states it). Then a burst: `--burst` moves back to
back, and the delay of each until the last one arrives.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/obeya_hooks \\
    BENCH_REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/webhook_delay.py
"""

import argparse
import http.client
import json
import os
import signal
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.hook_receiver

from common import machine, make_board, percentile, post_json, servers, setup_django, worker


def wait_for(receiver, seq: int, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with receiver.lock:
            for got in receiver.received:
                if got.payload["seq"] == seq:
                    return got
        time.sleep(0.002)
    raise TimeoutError(f"seq {seq} never arrived")


def summary(values: list[float]) -> dict:
    return {
        "median_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(percentile(values, 0.95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--pause", type=float, default=0.5)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()
    os.environ["WEBHOOK_ALLOW_PRIVATE"] = "1"  # the receiver is on 127.0.0.1
    setup_django()
    from boards.hooks import services as hook_services
    from boards.models import Board
    from tests.hook_receiver import Receiver, start_receiver, verify

    receiver = Receiver()
    server = start_receiver(receiver)
    board_id, token, columns, cards = make_board(2, name="hooks")
    board = Board.objects.get(pk=board_id)
    owner = board.team.members.first()
    hook = hook_services.create_webhook(
        board.organization, url=receiver.url, board=board, actor=owner
    )
    queue = f"bench-{os.getpid()}"
    process = worker(queue)
    after_answer, after_at, burst = [], [], []
    try:
        with servers(
            1, env={"CELERY_QUEUE": queue, "CACHE_KEY_PREFIX": queue, "CELERY_EAGER": "0"}
        ) as (url,):
            conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
            time.sleep(2)
            card = cards[0]
            for i in range(args.rounds + 2):  # the first two warm the worker up
                time.sleep(args.pause)
                status, body = post_json(
                    conn, f"/api/v1/cards/{card}/move/", token, {"column": columns[i % 2 + 1]}
                )
                answered = time.time()
                assert status == 200, body
                got = wait_for(receiver, body["seq"])
                if i >= 2:
                    after_answer.append(got.at - answered)
                    at = datetime.fromisoformat(got.payload["at"]).timestamp()
                    after_at.append(got.at - at)
            time.sleep(args.pause)
            answered_at = {}
            for i in range(args.burst):
                status, body = post_json(
                    conn, f"/api/v1/cards/{card}/move/", token, {"column": columns[i % 2 + 1]}
                )
                answered_at[body["seq"]] = time.time()
            for seq, answered in answered_at.items():
                burst.append(wait_for(receiver, seq).at - answered)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
        server.shutdown()
    assert all(verify(hook.secret, r.headers, r.body) for r in receiver.received)
    print(
        json.dumps(
            {
                "rounds": len(after_answer),
                "pause_s": args.pause,
                "from_api_answer": summary(after_answer),
                "from_event_at": summary(after_at),
                "burst": {"moves": args.burst, **summary(burst)},
                "deliveries": len(receiver.received),
                "machine": machine(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
