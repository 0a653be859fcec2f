"""REST move throughput, with broadcasting on (and viewers connected) and off.

Starts uvicorn on a bench database and drives POST /api/v1/cards/{id}/move/ with wrk
(`apt-get install wrk`) at a given concurrency for a given time, random cards to random
columns of their board (one board, or `--boards N` of one organisation: moves on one board
serialise on its event log's seq and its columns' locks). Reports requests/s and wrk's
latency percentiles, with broadcasting on (viewers connected to the first board) and off.

    .venv/bin/python bench/move_throughput.py --workers 2 --connections 16 --duration 20
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, make_board, servers, setup_django

LUA = """
math.randomseed(%(seed)d)
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


def viewers(url: str, board: int, token: str, count: int) -> subprocess.Popen:
    """Connected viewers, so that broadcasting really fans out during the run."""
    code = f"""
import asyncio, websockets
async def one():
    async with websockets.connect({url.replace("http://", "ws://")!r} + '/ws/boards/{board}/',
            additional_headers={{'Authorization': 'Token {token}'}}, max_queue=None) as ws:
        while True:
            await ws.recv()
async def main():
    await asyncio.gather(*(one() for _ in range({count})))
asyncio.run(main())
"""
    return subprocess.Popen([sys.executable, "-c", code])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--viewers", type=int, default=50)
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
    for publish in ("1", "0"):
        board, token, columns, cards = make_board(200 // args.boards, name=f"tp{publish}")
        boards = {1: (columns, cards)}
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
        script = Path(tempfile.mktemp(suffix=".lua"))
        script.write_text(
            LUA
            % {
                "seed": 1,
                "cards": ",".join(
                    f"{{{card},{i}}}" for i, (_, ids) in boards.items() for card in ids
                ),
                "columns": ",".join(
                    "{" + ",".join(map(str, cols)) + "}" for cols, _ in boards.values()
                ),
                "token": token,
            }
        )
        with servers(1, workers=args.workers, env={"PUBLISH_EVENTS": publish}) as (url,):
            watchers = viewers(url, board, token, args.viewers) if publish == "1" else None
            time.sleep(2)
            try:
                result = run_wrk(url, script, args.connections, args.duration)
            finally:
                if watchers:
                    watchers.kill()
        result.update(
            broadcasting=publish == "1",
            workers=args.workers,
            boards=args.boards,
            connections=args.connections,
            viewers=args.viewers if publish == "1" else 0,
        )
        results.append(result)
        print(json.dumps(result), flush=True)
    print(json.dumps({"machine": machine()}))


if __name__ == "__main__":
    main()
