"""REST move throughput, with broadcasting on (and viewers connected) and off.

Starts uvicorn on a bench database and drives POST /api/v1/cards/{id}/move/ with wrk
(`apt-get install wrk`) at a given concurrency for a given time, random cards to random
columns. Reports requests/s and wrk's latency percentiles for each configuration.

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
  local card = cards[math.random(#cards)]
  local column = columns[math.random(#columns)]
  local body = string.format('{"column": %%d, "position": %%d}', column, math.random(0, 5))
  return wrk.format("POST", "/api/v1/cards/" .. card .. "/move/",
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
    args = parser.parse_args()

    setup_django()
    results = []
    for publish in ("1", "0"):
        board, token, columns, cards = make_board(200, name=f"throughput{publish}")
        script = Path(tempfile.mktemp(suffix=".lua"))
        script.write_text(
            LUA
            % {
                "seed": 1,
                "cards": ",".join(map(str, cards)),
                "columns": ",".join(map(str, columns)),
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
            connections=args.connections,
            viewers=args.viewers if publish == "1" else 0,
        )
        results.append(result)
        print(json.dumps(result), flush=True)
    print(json.dumps({"machine": machine()}))


if __name__ == "__main__":
    main()
