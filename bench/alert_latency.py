"""How long after a move over a WIP limit do viewers see the alert?

Production shape: uvicorn (tasks not eager), a real Celery worker on Redis, a viewer on the
board's websocket. Each round makes a column go over its soft limit through the REST API, then
waits for `alert.raised` on the websocket; then moves the card back out (the alert closes).

    .venv/bin/python bench/alert_latency.py --rounds 10
"""

import argparse
import asyncio
import http.client
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    machine,
    make_board,
    post_json,
    servers,
    setup_django,
    worker,
)


async def rounds(
    url: str, board: int, token: str, card: int, into: int, back: int, n: int, pause: float
) -> list[float]:
    import websockets

    host = url.removeprefix("http://")
    conn = http.client.HTTPConnection(host, timeout=10)
    delays = []
    async with websockets.connect(
        f"ws://{host}/ws/boards/{board}/", additional_headers={"Authorization": f"Token {token}"}
    ) as ws:
        for _ in range(n):
            await asyncio.sleep(pause)
            status, _ = await asyncio.to_thread(
                post_json, conn, f"/api/v1/cards/{card}/move/", token, {"column": into}
            )
            assert status == 200
            moved = time.perf_counter()
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if message.get("type") == "alert.raised":
                    delays.append(time.perf_counter() - moved)
                    break
            await asyncio.sleep(pause)
            await asyncio.to_thread(
                post_json, conn, f"/api/v1/cards/{card}/move/", token, {"column": back}
            )
            while json.loads(await asyncio.wait_for(ws.recv(), 30)).get("type") != "alert.closed":
                pass
    return delays


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--pause",
        type=float,
        default=1.5,
        help="seconds between a round's moves: a board's checks start at most once a second "
        "(boards/tasks.py), so with 0 every check after the first waits for its turn",
    )
    args = parser.parse_args()
    setup_django()
    from boards import services
    from boards.models import Board, Card

    board_id, token, _, _ = make_board(0, name="alerts")
    board = Board.objects.get(pk=board_id)
    owner = board.team.members.first()
    ready, doing = board.columns.get(name="Ready"), board.columns.get(name="Doing")
    services.update_column(doing, wip_limit=1, actor=owner)
    services.create_card(board, title="in progress", column=doing, actor=owner)
    card = services.create_card(board, title="one more", column=ready, actor=owner)
    queue = f"bench-{os.getpid()}"
    process = worker(queue)
    try:
        with servers(
            1, env={"CELERY_QUEUE": queue, "CACHE_KEY_PREFIX": queue, "CELERY_EAGER": "0"}
        ) as (url,):
            time.sleep(2)
            delays = asyncio.run(
                rounds(url, board_id, token, card.pk, doing.pk, ready.pk, args.rounds, args.pause)
            )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    assert Card.objects.filter(column=doing).count() == 1
    print(
        json.dumps(
            {
                "rounds": len(delays),
                "pause_s": args.pause,
                "median_s": round(statistics.median(delays), 3),
                "max_s": round(max(delays), 3),
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
