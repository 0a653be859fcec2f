"""What 50 viewers of one board cost the web process: its CPU time per move, with and without
viewers connected.

Moves/s on two shared cores swing with whatever else runs; CPU time spent by the server
process does much less. Starts one uvicorn process (one worker) on the bench database, connects
`--viewers` websocket viewers of one board (a client process of their own), makes `--moves`
moves one after another through the REST API, waits until every viewer has every event, and
reads the server's CPU time (user + system, /proc) over the moves. Then the same with no
viewers. Reports CPU ms per move each way, and the viewers' share: µs per delivered message.

    BENCH_REDIS_URL=redis://127.0.0.1:6396/0 .venv/bin/python bench/viewer_cpu.py --viewers 50
"""

import argparse
import asyncio
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, make_board, post_json, servers, setup_django

CLIENT = """
import asyncio, json, os, sys, websockets
url, board, token, count, out = sys.argv[1:]
count = int(count)
last = [0] * count
def target():
    try:
        return int(open(out + ".target").read())
    except (OSError, ValueError):
        return None
async def one(i, ready):
    async with websockets.connect(url + f"/ws/boards/{board}/",
            additional_headers={"Authorization": f"Token {token}"}, max_queue=None) as ws:
        while True:
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
            except asyncio.TimeoutError:
                message = {}
            if message.get("type") == "hello":
                last[i] = message["seq"]
                ready.release()
            elif "seq" in message and message.get("type") != "pong":
                last[i] = max(last[i], message["seq"])
            goal = target()
            if goal is not None and last[i] >= goal:
                return
async def main():
    ready = asyncio.Semaphore(0)
    tasks = [asyncio.create_task(one(i, ready)) for i in range(count)]
    for _ in range(count):
        await ready.acquire()
    open(out + ".ready", "w").close()
    await asyncio.gather(*tasks)
    open(out, "w").write(json.dumps(last))
asyncio.run(main())
"""


WARM_UP = 20


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def server_pids(port: int) -> list[int]:
    """uvicorn's processes for `port`: the supervisor and its workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"uvicorn" in args and str(port).encode() in args:
                found.append(int(entry.name))
    pids = list(found)
    while found:
        pid = found.pop()
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = [int(c) for c in (task / "children").read_text().split()]
            pids += children
            found += children
    return pids


async def publish(board: int, count: int, rate: float, first_seq: int) -> int:
    """`count` board events straight into the channel layer (as the publisher sends them), at
    `rate` a second: the fan-out's cost alone, without the moves'."""
    from channels.layers import get_channel_layer

    from boards.live.events import board_group

    layer = get_channel_layer()
    start = time.perf_counter()
    for i in range(count):
        seq = first_seq + 1 + i
        text = json.dumps({"type": "card.moved", "board": board, "seq": seq, "data": {"n": i}})
        await layer.group_send(board_group(board), {"type": "board.event", "text": text})
        delay = start + (i + 1) / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    return first_seq + count


def run(board, token, cards, columns, moves: int, viewers: int, direct: bool = False) -> dict:
    with servers(1, workers=1) as (url,):
        port = int(url.rsplit(":", 1)[1])
        pids = server_pids(port)
        client = None
        out = Path(tempfile.mktemp())
        if viewers:
            client = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    CLIENT,
                    url.replace("http://", "ws://"),
                    str(board),
                    token,
                    str(viewers),
                    str(out),
                ]
            )
            deadline = time.time() + 60
            while not Path(str(out) + ".ready").exists():
                assert time.time() < deadline, "viewers did not connect"
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(WARM_UP):  # connections, prepared statements
            post_json(conn, f"/api/v1/cards/{cards[i]}/move/", token, {"column": columns[0]})
        time.sleep(3)  # presence and the warm-up's events settle
        before = cpu_seconds(pids)
        t0 = time.perf_counter()
        seq = 0
        if direct:
            status, answer = post_json(
                conn, f"/api/v1/cards/{cards[0]}/move/", token, {"column": columns[1]}
            )
            seq = asyncio.run(publish(board, moves, 300.0, answer["seq"] + 10_000))
        for i in range(0 if direct else moves):
            status, answer = post_json(
                conn,
                f"/api/v1/cards/{cards[(i * 7) % len(cards)]}/move/",
                token,
                {"column": columns[i % len(columns)], "position": 0},
            )
            assert status == 200, status
            seq = max(seq, answer.get("seq") or 0)
        Path(str(out) + ".target").write_text(str(seq))
        if client:
            client.wait(timeout=120)
            seen = json.loads(out.read_text())
        else:
            seen = []
            time.sleep(0.5)
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(pids) - before
        conn.close()
    return {
        "viewers": viewers,
        "moves": moves,
        "server_cpu_ms_per_move": round(cpu * 1000 / moves, 3),
        "elapsed_s": round(elapsed, 2),
        "last_seq": seq,
        "viewers_at_last_seq": sum(1 for s in seen if s >= seq) if seen else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--moves", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--direct",
        action="store_true",
        help="publish --moves events into the channel layer (300/s) instead of moving cards",
    )
    args = parser.parse_args()
    setup_django()
    board, token, columns, cards = make_board(100, name=f"vcpu{os.getpid()}")
    rows = []
    for _ in range(args.repeat):
        for viewers in (0, args.viewers):
            row = run(board, token, cards, columns, args.moves, viewers, args.direct)
            rows.append(row)
            print(json.dumps(row), flush=True)
    alone = sorted(r["server_cpu_ms_per_move"] for r in rows if r["viewers"] == 0)
    watched = sorted(r["server_cpu_ms_per_move"] for r in rows if r["viewers"])
    median = lambda values: values[len(values) // 2]  # noqa: E731
    extra_us = (median(watched) - median(alone)) * 1000 / max(args.viewers, 1)
    print(
        json.dumps(
            {
                "cpu_ms_per_move_no_viewers": median(alone),
                f"cpu_ms_per_move_{args.viewers}_viewers": median(watched),
                "us_per_delivered_message": round(extra_us, 1),
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
