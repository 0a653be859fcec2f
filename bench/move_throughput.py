"""REST move throughput, with broadcasting on (and viewers connected) and off.

Starts uvicorn on a bench database and drives POST /api/v1/cards/{id}/move/ with wrk
(`apt-get install wrk`) at a given concurrency for a given time, random cards to random
columns of their board (one board, or `--boards N` of one organisation: moves on one board
serialise on its event log's seq and its columns' locks). Reports requests/s and wrk's
latency percentiles, with broadcasting on (viewers spread over the boards, or all on the first
one) and off, with a Celery worker running the checks the moves queue.

    .venv/bin/python bench/move_throughput.py --workers 2 --connections 16 --duration 20
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, make_board, servers, setup_django, worker

# Each wrk thread runs its own copy of the script: seeded apart (init), or the threads would send
# the same moves in step, and every other one would find its card already there.
LUA = """
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
function init(args)
  math.randomseed(%(seed)d * 1000 + id)
end
local cards = {%(cards)s}
local columns = {%(columns)s}
request = function()
  local pick = cards[math.random(#cards)]
  local choices = columns[pick[2]]
  local column = choices[math.random(#choices)]
  local body = string.format('{"column": %%d, "position": %%d}', column, math.random(0, 5))
  return wrk.format("POST", "/api/v1/cards/" .. pick[1] .. "/move/",
    {["Authorization"] = "Token %(token)s", ["Content-Type"] = "application/json"}, body)
end
"""


def run_wrk(url: str, script: Path, connections: int, duration: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = dict(re.findall(r"^\s+(50|90|99)%\s+([\d.]+\w+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": latency.get("50"),
        "p90": latency.get("90"),
        "p99": latency.get("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def viewers(url: str, boards: list[int], token: str, count: int) -> subprocess.Popen:
    """`count` connected viewers spread round-robin over `boards`, so that broadcasting really
    fans out during the run (a client process of their own, on this same machine)."""
    code = f"""
import asyncio, websockets
async def one(board):
    async with websockets.connect({url.replace("http://", "ws://")!r} + f'/ws/boards/{{board}}/',
            additional_headers={{'Authorization': 'Token {token}'}}, max_queue=None) as ws:
        while True:
            await ws.recv()
async def main():
    boards = {boards!r}
    await asyncio.gather(*(one(boards[i % len(boards)]) for i in range({count})))
asyncio.run(main())
"""
    return subprocess.Popen([sys.executable, "-c", code])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="measured runs (median reported)")
    parser.add_argument(
        "--boards",
        type=int,
        default=1,
        help="spread the moves over this many boards of the organisation",
    )
    args = parser.parse_args()

    setup_django()
    from accounts.models import User
    from accounts.services import create_team
    from boards import services
    from boards.models import Board

    results = []
    # Broadcasting on with the viewers spread over the boards (as an organisation's teams watch
    # their own boards), on with every viewer on the first board, and off.
    runs = (
        [("1", "spread"), ("1", "first"), ("0", "none")]
        if args.boards > 1
        else [
            ("1", "first"),
            ("0", "none"),
        ]
    )
    for publish, watching in runs:
        board, token, columns, cards = make_board(200 // args.boards, name=f"tp{publish}")
        boards = {1: (columns, cards)}
        ids = [board]
        first = Board.objects.get(pk=board)
        owner = User.objects.get(username=f"tp{publish}-owner")
        for i in range(2, args.boards + 1):
            team = create_team(first.organization, name=f"Team {i}", members=[owner], actor=owner)
            extra = services.create_board(team=team, name=f"board {i}", actor=owner)
            cols = list(extra.columns.order_by("position"))
            made = [
                services.create_card(
                    extra, title=f"card {j}", column=cols[j % len(cols)], actor=owner
                ).pk
                for j in range(200 // args.boards)
            ]
            boards[i] = ([c.pk for c in cols], made)
            ids.append(extra.pk)
        script = Path(tempfile.mktemp(suffix=".lua"))
        script.write_text(
            LUA
            % {
                "seed": 1,
                "cards": ",".join(
                    f"{{{card},{i}}}" for i, (_, ids_) in boards.items() for card in ids_
                ),
                "columns": ",".join(
                    "{" + ",".join(map(str, cols)) + "}" for cols, _ in boards.values()
                ),
                "token": token,
            }
        )
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        env = {"PUBLISH_EVENTS": publish, "CELERY_QUEUE": queue, "CACHE_KEY_PREFIX": queue}
        # The production shape on one machine: a Celery worker runs the alert checks and
        # metrics refreshes that the moves queue, on the same two cores.
        tasks = worker(queue)
        with servers(1, workers=args.workers, env=env) as (url,):
            watchers = None
            if watching != "none":
                watched = ids if watching == "spread" else ids[:1]
                watchers = viewers(url, watched, token, args.viewers)
            time.sleep(2)
            try:
                # Warm up (each process's connections and prepared statements), then measure
                # `--repeat` times: this machine's runs vary by ±10 %, so the median is reported.
                run_wrk(url, script, args.connections, 3)
                runs_ = [
                    run_wrk(url, script, args.connections, args.duration)
                    for _ in range(args.repeat)
                ]
                result = sorted(runs_, key=lambda r: r["rps"])[len(runs_) // 2]
                result["rps_runs"] = [r["rps"] for r in runs_]
            finally:
                if watchers:
                    watchers.kill()
                os.killpg(tasks.pid, signal.SIGTERM)
        result.update(
            broadcasting=publish == "1",
            viewers_on=watching,
            workers=args.workers,
            boards=args.boards,
            connections=args.connections,
            viewers=args.viewers if watching != "none" else 0,
        )
        results.append(result)
        print(json.dumps(result), flush=True)
    print(json.dumps({"machine": machine()}))


if __name__ == "__main__":
    main()
