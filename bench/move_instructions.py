"""Instructions the web process spends on one move, counted by valgrind (callgrind): a figure
that does not move with the machine's load, as CPU time on a shared VM does (bench/RESULTS.md).

Runs uvicorn (one process, WEB_THREADS 4) under callgrind twice, with a Celery worker running
the checks the moves queue, and sends `--first` then `--second` moves one after another (random
cards of a 500-card board to random columns, positions 0-5) over one keep-alive connection; the
difference of the two runs' instruction totals over the difference of their moves is one
move's, start-up and shut-down cancelling out. Needs valgrind (`apt-get install valgrind`);
a run takes a minute or two.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/obeya_bench \\
    BENCH_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/move_instructions.py
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_DATABASE_URL,
    BENCH_REDIS_URL,
    ROOT,
    free_port,
    machine,
    make_board,
    setup_django,
    vacuum,
    worker,
)


def instructions(moves: int, board: tuple, queue: str, out: Path) -> int:
    """The web process's instruction total over its life, `moves` moves sent."""
    _, token, columns, cards = board
    vacuum()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": BENCH_DATABASE_URL,
        "REDIS_URL": BENCH_REDIS_URL,
        "DEBUG": "0",
        "SECRET_KEY": "bench",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "kanban.settings",
        "API_RATE_TOKEN": "10000000/min",
        "API_RATE_USER": "10000000/min",
        "CELERY_EAGER": "0",
        "CELERY_QUEUE": queue,
        "CACHE_KEY_PREFIX": queue,
        "WEB_THREADS": "4",
        "PYTHONMALLOC": "malloc",  # valgrind's advice for CPython
    }
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "uvicorn",
        "kanban.asgi:application",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.time() + 600  # start-up under valgrind takes a while
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=30)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise
                time.sleep(1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        rnd = random.Random(7)
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        for _ in range(moves):
            body = json.dumps({"column": rnd.choice(columns), "position": rnd.randint(0, 5)})
            conn.request("POST", f"/api/v1/cards/{rnd.choice(cards)}/move/", body, headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        conn.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(300)
    found = re.search(r"^(?:totals|summary): (\d+)", out.read_text(), re.M)
    assert found, f"no totals in {out}"
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--first", type=int, default=30)
    parser.add_argument("--second", type=int, default=130)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: apt-get install valgrind")
    setup_django()
    board = make_board(500, name="instructions")
    queue = f"instructions-{uuid.uuid4().hex[:8]}"
    tasks = worker(queue)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            first = instructions(args.first, board, queue, Path(tmp) / "first.out")
            second = instructions(args.second, board, queue, Path(tmp) / "second.out")
    finally:
        tasks.terminate()
        tasks.wait(30)
    per_move = (second - first) / (args.second - args.first)
    print(json.dumps({"instructions_per_move": round(per_move), "machine": machine()}))
    print(f"{per_move / 1e6:.2f} M instructions per move (web process)")


if __name__ == "__main__":
    main()
