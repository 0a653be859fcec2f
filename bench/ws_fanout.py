"""Live-update fan-out: the delay from a REST move's response to each viewer's receipt.

Starts `--servers` uvicorn processes on a bench database sharing Redis, connects `--viewers`
websocket viewers spread over them (from `--client-procs` client processes), makes `--moves`
moves at `--rate` moves/s through the REST API (alternating between the servers), and reports
p50 / p99 / max delay and events lost (expected viewer x event pairs never received).

    .venv/bin/python bench/ws_fanout.py --viewers 200 --rate 10 --moves 200
    .venv/bin/python bench/ws_fanout.py --viewers 1000 --rate 2 --moves 60
"""

import argparse
import asyncio
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, make_board, percentile, post_json, servers, setup_django


async def run_clients(
    urls: list[str],
    board: int,
    token: str,
    count: int,
    offset: int,
    ready: Path,
    stop: Path,
    out: Path,
) -> None:
    import websockets

    received: dict[int, dict[int, float]] = {}
    connected = 0

    async def viewer(i: int) -> None:
        nonlocal connected
        url = urls[(offset + i) % len(urls)].replace("http://", "ws://") + f"/ws/boards/{board}/"
        seen = received.setdefault(offset + i, {})
        async with websockets.connect(
            url,
            additional_headers={"Authorization": f"Token {token}"},
            open_timeout=60,
            max_queue=None,
        ) as ws:
            connected += 1
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") == "card.moved":
                    seen.setdefault(message["seq"], time.time())

    tasks = []
    for i in range(count):
        tasks.append(asyncio.create_task(viewer(i)))
        if i % 50 == 49:
            await asyncio.sleep(0.2)  # stagger the handshakes a little
    while connected < count:
        await asyncio.sleep(0.1)
        failed = [t for t in tasks if t.done()]
        if failed:
            failed[0].result()
    ready.write_text("ok")
    while not stop.exists():
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    out.write_text(json.dumps({str(k): v for k, v in received.items()}))


def client_main(args) -> None:
    asyncio.run(
        run_clients(
            args.urls.split(","),
            args.board,
            args.token,
            args.count,
            args.offset,
            Path(args.ready),
            Path(args.stop),
            Path(args.out),
        )
    )


def make_moves(
    urls: list[str],
    token: str,
    columns: list[int],
    cards: list[int],
    moves: int,
    rate: float,
    seed: int = 1,
) -> dict[int, float]:
    """Move cards at `rate`/s; return {seq: time the response arrived}."""
    rng = random.Random(seed)
    conns = [http.client.HTTPConnection(u.removeprefix("http://"), timeout=10) for u in urls]
    where: dict[int, int] = {}
    responses: dict[int, float] = {}
    start = time.time()
    for i in range(moves):
        due = start + i / rate
        if due > time.time():
            time.sleep(due - time.time())
        card = rng.choice(cards)
        target = rng.choice([c for c in columns if c != where.get(card)])
        status, body = post_json(
            conns[i % len(conns)],
            f"/api/v1/cards/{card}/move/",
            token,
            {"column": target, "position": rng.randint(0, 5)},
        )
        now = time.time()
        if status != 200:
            raise RuntimeError(f"move answered {status}: {body}")
        where[card] = target
        if body["moved"]:
            responses[body["seq"]] = now
    return responses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--urls")
    parser.add_argument("--board", type=int)
    parser.add_argument("--token")
    parser.add_argument("--count", type=int)
    parser.add_argument("--offset", type=int)
    parser.add_argument("--ready")
    parser.add_argument("--stop")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return

    setup_django()
    board, token, columns, cards = make_board(60, name="fanout")
    tmp = Path(tempfile.mkdtemp(prefix="obeya-bench-"))
    with servers(args.servers, server=args.server) as urls:
        clients = []
        per = args.viewers // args.client_procs
        for k in range(args.client_procs):
            count = per if k < args.client_procs - 1 else args.viewers - per * k
            clients.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--client",
                        "--urls",
                        ",".join(urls),
                        "--board",
                        str(board),
                        "--token",
                        token,
                        "--count",
                        str(count),
                        "--offset",
                        str(per * k),
                        "--ready",
                        str(tmp / f"ready{k}"),
                        "--stop",
                        str(tmp / "stop"),
                        "--out",
                        str(tmp / f"out{k}.json"),
                    ]
                )
            )
        deadline = time.time() + 180
        while not all((tmp / f"ready{k}").exists() for k in range(args.client_procs)):
            if time.time() > deadline or any(c.poll() is not None for c in clients):
                raise SystemExit("viewers did not all connect")
            time.sleep(0.2)
        time.sleep(2)  # let presence updates settle
        started = time.time()
        responses = make_moves(urls, token, columns, cards, args.moves, args.rate)
        elapsed = time.time() - started
        time.sleep(3)
        (tmp / "stop").write_text("stop")
        for client in clients:
            client.wait(timeout=60)

    received: dict[str, dict[str, float]] = {}
    for k in range(args.client_procs):
        received.update(json.loads((tmp / f"out{k}.json").read_text()))
    delays, lost = [], 0
    for seen in received.values():
        for seq, t_response in responses.items():
            t = seen.get(str(seq))
            if t is None:
                lost += 1
            else:
                delays.append((t - t_response) * 1000)
    result = {
        "viewers": args.viewers,
        "servers": args.servers,
        "server": args.server,
        "rate": args.rate,
        "moves": len(responses),
        "achieved_rate": round(len(responses) / elapsed, 1),
        "deliveries": len(delays),
        "lost": lost,
        "p50_ms": round(percentile(delays, 0.50), 1),
        "p99_ms": round(percentile(delays, 0.99), 1),
        "max_ms": round(max(delays), 1) if delays else None,
        "machine": machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
