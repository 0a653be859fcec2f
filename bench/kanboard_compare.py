"""Obeya against Kanboard 1.2.53, side by side on this machine, in one run.

Both get a board of `--cards` cards (500) spread over 5 columns, one swimlane. Then, for each
entry of `--processes` (server processes per side: uvicorn workers for Obeya, PHP built-in
server workers for Kanboard), with both servers up:

- API moves/s and latency p50 / p99 at each of `--clients` concurrent connections, the same
  load generator for both (wrk, a Lua script): random cards to random columns, positions 0-5
  (Obeya's POST /api/v1/cards/{id}/move/ with an API token; Kanboard's JSON-RPC
  `moveTaskPosition`, positions 1-6, with the application API token). The two sides alternate
  at each concurrency so that a change in the machine's load hits both. A move counts as
  failed when the answer is not 200 (and, for Kanboard, has no `"result":true`).
- reading the whole board, one client, `--reads` requests each, alternating request by
  request: Obeya's GET /api/v1/boards/{id}/ against Kanboard's JSON-RPC `getBoard`.
- with `--browser`, drags in Chromium (Playwright, Debian's /usr/bin/chromium): each drag
  takes a card with the mouse to the next column and waits for the server's answer to the
  move; drags per second over `--drags` drags.

Kanboard is not part of this repository: the script installs PHP from Debian when it is
missing (apt-get, as root), and unpacks Kanboard v1.2.53 into `--cache`
(~/.cache/obeya-bench/kanboard-1.2.53): GitHub's release tarball when the network reaches
it, else `git archive v1.2.53` from a bare clone named by `KANBOARD_GIT_DIR` (default
/work/.mirror/kanboard+kanboard/repo). Kanboard runs on SQLite (its default, WAL) in a fresh
data directory each run, served by `php -S` (what the issue ran), with
`PHP_CLI_SERVER_WORKERS` set when more than one process is asked for. Obeya runs as
bench/move_throughput.py runs it: uvicorn (WEB_THREADS 4 per process), Postgres, Redis and a
Celery worker running the checks the moves queue.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/obeya_bench_kb \\
    BENCH_REDIS_URL=redis://127.0.0.1:6396/0 \\
    .venv/bin/python bench/kanboard_compare.py [--clients 1,8,32] [--duration 15]

It prints a markdown section and appends it to bench/RESULTS.md (`--no-append` not to).
"""

import argparse
import atexit
import base64
import contextlib
import datetime
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tarfile
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
    make_board,
    percentile,
    servers,
    setup_django,
    vacuum,
    worker,
)

KANBOARD_VERSION = "1.2.53"
KANBOARD_COMMIT = "3c88caa218c8b631e5d663552625a64b86f7f1d6"  # the tag v1.2.53
KANBOARD_TARBALL = (
    f"https://github.com/kanboard/kanboard/archive/refs/tags/v{KANBOARD_VERSION}.tar.gz"
)
KANBOARD_GIT_DIR = os.environ.get("KANBOARD_GIT_DIR", "/work/.mirror/kanboard+kanboard/repo")
# Kanboard's composer.json: PHP >= 8.1 with these extensions (and SQLite through PDO).
PHP_EXTENSIONS = (
    "pdo_sqlite",
    "mbstring",
    "gd",
    "dom",
    "SimpleXML",
    "xml",
    "openssl",
    "json",
    "ctype",
    "filter",
    "session",
)
PHP_PACKAGES = ["php-cli", "php-sqlite3", "php-mbstring", "php-xml", "php-gd", "php-zip"]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# One Lua script for both sides: `request` builds the move. An answer fails when its status is
# not 200 or, if `ok` is set, its body lacks `ok`; a body with `noop` counts apart (Kanboard
# answers `"result":false` to a move to where the task already is). Each wrk thread has a Lua
# state of its own, seeded apart (with one seed, both threads would send the same moves, and
# every second move would be a no-op); done() sums their counts.
LUA = """
local cards = {%(cards)s}
local columns = {%(columns)s}
local ok = %(ok)s
local noop = %(noop)s
local threads = {}
failures = 0
noops = 0
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
function init(args)
  math.randomseed(%(seed)d * 1000 + id)
end
function response(status, headers, body)
  if noop and status == 200 and string.find(body, noop, 1, true) then
    noops = noops + 1
  elseif status ~= 200 or (ok and not string.find(body, ok, 1, true)) then
    failures = failures + 1
    if failures == 1 then example = status .. " " .. string.sub(body, 1, 160) end
  end
end
function done(summary, latency, requests)
  local n, m = 0, 0
  for _, t in ipairs(threads) do
    n = n + t:get("failures")
    m = m + t:get("noops")
  end
  io.write(string.format("FAILURES %%d\\n", n))
  io.write(string.format("NOOPS %%d\\n", m))
  for _, t in ipairs(threads) do
    local e = t:get("example")
    if e then
      io.write("EXAMPLE " .. string.gsub(e, "\\n", " ") .. "\\n")
      break
    end
  end
end
request = function()
  local card = cards[math.random(#cards)]
  local column = columns[math.random(#columns)]
  local position = math.random(0, 5)
  %(request)s
end
"""

OBEYA_REQUEST = """
  local body = string.format('{"column": %%d, "position": %%d}', column, position)
  return wrk.format("POST", "/api/v1/cards/" .. card .. "/move/",
    {["Authorization"] = "Token %(token)s", ["Content-Type"] = "application/json"}, body)
"""

KANBOARD_REQUEST = """
  local body = string.format('{"jsonrpc": "2.0", "method": "moveTaskPosition", "id": 1, '
    .. '"params": {"project_id": %(project)d, "task_id": %%d, "column_id": %%d, '
    .. '"position": %%d, "swimlane_id": %(swimlane)d}}', card, column, position + 1)
  return wrk.format("POST", "/jsonrpc.php",
    {["Authorization"] = "Basic %(auth)s", ["Content-Type"] = "application/json"}, body)
"""


def sh(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def apt_install(packages: list[str]) -> None:
    if os.geteuid() != 0:
        sys.exit(f"missing {' '.join(packages)}: run `apt-get install -y {' '.join(packages)}`")
    print(f"apt-get install -y {' '.join(packages)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", *packages],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def ensure_tools() -> None:
    """PHP with Kanboard's extensions, and wrk; from Debian when missing."""
    missing = []
    if shutil.which("php"):
        loaded = {m.lower() for m in sh("php", "-m").split()}
        if any(ext.lower() not in loaded for ext in PHP_EXTENSIONS):
            missing += PHP_PACKAGES
    else:
        missing += PHP_PACKAGES
    if not shutil.which("wrk"):
        missing.append("wrk")
    if missing:
        apt_install(missing)


def ensure_kanboard(cache: Path) -> Path:
    """Kanboard v1.2.53's source tree in `cache`: the release tarball from GitHub, or the tag
    archived from a local bare clone when GitHub is out of reach."""
    target = cache / f"kanboard-{KANBOARD_VERSION}"
    if (target / "jsonrpc.php").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=cache, prefix=".unpack-"))
    try:
        try:
            with urllib.request.urlopen(KANBOARD_TARBALL, timeout=30) as answer:
                data = answer.read()
            print(f"Kanboard from {KANBOARD_TARBALL}", flush=True)
        except OSError as error:
            git_dir = Path(KANBOARD_GIT_DIR)
            if not git_dir.exists():
                sys.exit(
                    f"cannot download {KANBOARD_TARBALL} ({error}) and no clone at {git_dir}: "
                    "set KANBOARD_GIT_DIR to a clone of github.com/kanboard/kanboard"
                )
            commit = sh(
                "git", f"--git-dir={git_dir}", "rev-parse", f"v{KANBOARD_VERSION}^{{commit}}"
            )
            if commit != KANBOARD_COMMIT:
                sys.exit(f"{git_dir}: v{KANBOARD_VERSION} is {commit}, not {KANBOARD_COMMIT}")
            print(f"Kanboard from {git_dir} (git archive v{KANBOARD_VERSION})", flush=True)
            # The same tree as GitHub's tarball, which is `git archive` of the tag.
            data = subprocess.run(
                [
                    "git",
                    f"--git-dir={git_dir}",
                    "archive",
                    "--format=tar.gz",
                    f"--prefix=kanboard-{KANBOARD_VERSION}/",
                    f"v{KANBOARD_VERSION}",
                ],
                capture_output=True,
                check=True,
            ).stdout
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(partial, filter="data")
        (partial / f"kanboard-{KANBOARD_VERSION}").rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


class Kanboard:
    """One `php -S` server on Kanboard with a data directory of its own."""

    def __init__(self, source: Path, data: Path, processes: int):
        self.source, self.data, self.processes = source, data, processes
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.auth = ""

    def __enter__(self) -> "Kanboard":
        # Not this process's environment: Kanboard would take DATABASE_URL (Obeya's Postgres)
        # for its own database.
        env = {
            "PATH": os.environ["PATH"],
            "DATA_DIR": str(self.data),
            "DB_DRIVER": "sqlite",
            "LOG_DRIVER": "file",
        }
        if self.processes > 1:
            env["PHP_CLI_SERVER_WORKERS"] = str(self.processes)
        self.process = subprocess.Popen(
            ["php", "-S", f"127.0.0.1:{self.port}", "-t", str(self.source)],
            cwd=self.source,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self._started()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _started(self) -> None:
        """Wait for the server, then read the application API token it made."""
        deadline = time.time() + 30
        while True:
            try:
                # The first request creates the database (and its admin/admin) if needed.
                urllib.request.urlopen(f"{self.url}/healthcheck.php", timeout=5).read()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        token = sh(
            "php",
            "-r",
            f'$db = new PDO("sqlite:{self.data}/db.sqlite");'
            " echo $db->query(\"SELECT value FROM settings WHERE option = 'api_token'\")"
            "->fetchColumn();",
        )
        self.auth = base64.b64encode(f"jsonrpc:{token}".encode()).decode()

    def __exit__(self, *exc) -> None:
        # The process group: with PHP_CLI_SERVER_WORKERS the workers are children of php.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=15)

    def rpc(self, method: str, params=None, conn=None):
        body = {"jsonrpc": "2.0", "method": method, "id": 1}
        if params is not None:
            body["params"] = params
        return self.batch([body], conn)[0]

    def batch(self, calls: list[dict], conn=None) -> list:
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            payload = calls if len(calls) > 1 else calls[0]
            conn.request(
                "POST",
                "/jsonrpc.php",
                body=json.dumps(payload),
                headers={"Authorization": f"Basic {self.auth}"},
            )
            answer = json.loads(conn.getresponse().read())
        finally:
            if own:
                conn.close()
        answers = answer if isinstance(answer, list) else [answer]
        for one in answers:
            if "error" in one:
                raise RuntimeError(f"Kanboard: {one['error']}")
        return [one["result"] for one in answers]


def build_kanboard(kb: Kanboard, n_cards: int) -> dict:
    """A project with 5 columns (Kanboard's four defaults and a Review before Done) and
    `n_cards` tasks spread over them as Obeya's bench board spreads its cards."""
    project = kb.rpc("createProject", {"name": "bench"})
    review = kb.rpc("addColumn", [project, "Review"])
    kb.rpc("changeColumnPosition", [project, review, 4])
    columns = [
        c["id"] for c in sorted(kb.rpc("getColumns", [project]), key=lambda c: c["position"])
    ]
    swimlane = kb.rpc("getActiveSwimlanes", [project])[0]["id"]
    tasks = []
    for start in range(0, n_cards, 50):
        calls = [
            {
                "jsonrpc": "2.0",
                "method": "createTask",
                "id": i,
                "params": {
                    "title": f"card {i}",
                    "project_id": project,
                    "column_id": columns[i % len(columns)],
                },
            }
            for i in range(start, min(start + 50, n_cards))
        ]
        tasks += kb.batch(calls)
    return {"project": project, "columns": columns, "swimlane": swimlane, "tasks": tasks}


def lua_script(
    cards: list[int], columns: list[int], request: str, ok: str | None, noop: str | None
) -> Path:
    script = Path(tempfile.mkstemp(suffix=".lua", prefix="kbcmp-")[1])
    atexit.register(script.unlink, missing_ok=True)
    script.write_text(
        LUA
        % {
            "seed": 1,
            "cards": ",".join(map(str, cards)),
            "columns": ",".join(map(str, columns)),
            "ok": json.dumps(ok) if ok else "nil",
            "noop": json.dumps(noop) if noop else "nil",
            "request": request,
        }
    )
    return script


def duration_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def run_wrk(url: str, script: Path, clients: int, seconds: int) -> dict:
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, clients)}",
            f"-c{clients}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    failures = int(re.search(r"FAILURES (\d+)", out).group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        # Moves/s: the answers that did the move (or found it done already) per second.
        "moves": rps * (requests - failures) / requests if requests else 0.0,
        "answers": rps,
        "requests": requests,
        "failures": failures,
        "noops": int(re.search(r"NOOPS (\d+)", out).group(1)),
        "example": (re.search(r"^EXAMPLE (.*)$", out, re.M) or [None, None])[1],
        # wrk counts a read error for each answer after which the server closes the
        # connection (php -S keeps none alive); those answers are counted and checked too.
        "read_errors": int(errors.group(2)) if errors else 0,
        "socket_errors": sum(int(errors.group(i)) for i in (1, 3, 4)) if errors else 0,
        "p50": duration_ms(latency["50"]),
        "p99": duration_ms(latency["99"]),
        "load": os.getloadavg()[0],
    }


def read_boards(
    obeya: tuple[str, int, str, list[int], list[int]],
    kb: Kanboard,
    kb_board: dict,
    n: int,
    *,
    cold: bool,
) -> dict:
    """`n` reads of the whole board from each side, one client, alternating request by
    request, after 5 warm-up reads each. Keep-alive where the server keeps the connection
    (uvicorn); php -S closes it after each answer, and http.client reconnects.

    Warm: the board does not change between reads, so Obeya answers from its per-process
    copy of the board's JSON (kept by the board's seq). Cold: before every read each side
    moves one card (not timed), so that every Obeya read builds the board anew, as the first
    read after a change does; Kanboard keeps no such copy, so it reads the same way in both."""
    url, board, token, cards, columns = obeya
    project = kb_board["project"]
    rng = random.Random(7)
    port = int(url.rsplit(":", 1)[1])
    oconn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    kconn = http.client.HTTPConnection("127.0.0.1", kb.port, timeout=60)
    kbody = json.dumps(
        {"jsonrpc": "2.0", "method": "getBoard", "id": 1, "params": {"project_id": project}}
    )

    def obeya_read() -> tuple[float, int, int]:
        t0 = time.perf_counter()
        oconn.request(
            "GET", f"/api/v1/boards/{board}/", headers={"Authorization": f"Token {token}"}
        )
        answer = oconn.getresponse()
        data = answer.read()
        elapsed = (time.perf_counter() - t0) * 1000
        assert answer.status == 200, (answer.status, data[:200])
        return elapsed, len(data), count_obeya(json.loads(data))

    def kanboard_read() -> tuple[float, int, int]:
        t0 = time.perf_counter()
        kconn.request(
            "POST",
            "/jsonrpc.php",
            body=kbody,
            headers={"Authorization": f"Basic {kb.auth}", "Content-Type": "application/json"},
        )
        answer = kconn.getresponse()
        data = answer.read()
        elapsed = (time.perf_counter() - t0) * 1000
        assert answer.status == 200, (answer.status, data[:200])
        return elapsed, len(data), count_kanboard(json.loads(data)["result"])

    def obeya_move() -> None:
        body = json.dumps({"column": rng.choice(columns), "position": 0})
        oconn.request(
            "POST",
            f"/api/v1/cards/{rng.choice(cards)}/move/",
            body=body,
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        answer = oconn.getresponse()
        answer.read()
        assert answer.status == 200, answer.status

    def kanboard_move() -> None:
        params = {
            "project_id": project,
            "task_id": rng.choice(kb_board["tasks"]),
            "column_id": rng.choice(kb_board["columns"]),
            "position": 1,
            "swimlane_id": kb_board["swimlane"],
        }
        body = json.dumps(
            {"jsonrpc": "2.0", "method": "moveTaskPosition", "id": 1, "params": params}
        )
        kconn.request(
            "POST",
            "/jsonrpc.php",
            body=body,
            headers={"Authorization": f"Basic {kb.auth}", "Content-Type": "application/json"},
        )
        answer = kconn.getresponse()
        answer.read()
        assert answer.status == 200, answer.status

    for _ in range(5):
        obeya_read()
        kanboard_read()
    times: dict[str, list[float]] = {"obeya": [], "kanboard": []}
    sizes, counts = {}, {}
    sides = (("obeya", obeya_read, obeya_move), ("kanboard", kanboard_read, kanboard_move))
    for _ in range(n):
        for side, read, move in sides:
            if cold:
                move()
            elapsed, size, count = read()
            times[side].append(elapsed)
            sizes[side], counts[side] = size, count
    oconn.close()
    kconn.close()
    return {
        side: {
            "median": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
            "bytes": sizes[side],
            "cards": counts[side],
        }
        for side, values in times.items()
    }


def count_obeya(board: dict) -> int:
    """The cards in Obeya's board answer, wherever they sit in it."""
    if "cards" in board:
        return len(board["cards"])
    return sum(len(column.get("cards", ())) for column in board.get("columns", ()))


def count_kanboard(board: list) -> int:
    return sum(len(column["tasks"]) for swimlane in board for column in swimlane["columns"])


def browser_drags(obeya: dict, kb: Kanboard, kb_board: dict, drags: int) -> dict:
    """Drags per second in Chromium: each drag takes the first card of a column to the next
    column (mouse down, 8 moves, up) and waits for the server's answer to the move; the two
    sides run one after the other with the same browser."""
    from playwright.sync_api import sync_playwright

    results = {}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = chromium.new_context(viewport={"width": 1600, "height": 1000}).new_page()
            page.goto(f"{obeya['url']}/accounts/login/?next=/boards/{obeya['board']}/")
            page.fill("input[name=username]", obeya["username"])
            page.fill("input[name=password]", obeya["password"])
            page.click("button[type=submit]")
            page.wait_for_url(f"**/boards/{obeya['board']}/")
            results["obeya"] = drag_loop(
                page,
                cards=".cell[data-column-id='{column}'] .card",
                target=".cell[data-column-id='{column}']",
                columns=obeya["columns"],
                is_move=lambda r: r.request.method == "POST" and r.url.endswith("/move/"),
                drags=drags,
            )
            page = chromium.new_context(viewport={"width": 1600, "height": 1000}).new_page()
            page.goto(f"{kb.url}/?controller=AuthController&action=login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "admin")
            page.click("button[type=submit]")
            page.goto(
                f"{kb.url}/?controller=BoardViewController&action=show"
                f"&project_id={kb_board['project']}"
            )
            results["kanboard"] = drag_loop(
                page,
                cards=".board-task-list.board-column-expanded[data-column-id='{column}']"
                " .task-board",
                target=".board-task-list.board-column-expanded[data-column-id='{column}']",
                columns=kb_board["columns"],
                is_move=lambda r: "BoardAjaxController" in r.url and "save" in r.url,
                drags=drags,
                # Kanboard redraws the whole board from the answer (#board-container replaced,
                # drag and drop bound again): the drag is over when the old one is gone.
                before="() => { document.getElementById('board-container').dataset.old = '1' }",
                settled="() => !document.getElementById('board-container').dataset.old",
            )
        finally:
            chromium.close()
    return results


NEXT_FRAME = "() => new Promise(done => requestAnimationFrame(() => done(true)))"


def drag_loop(
    page,
    *,
    cards: str,
    target: str,
    columns: list[int],
    is_move,
    drags: int,
    before: str | None = None,
    settled: str = NEXT_FRAME,
):
    """Drags per second, and the median time from the drop (mouse up) to the server's answer
    (the part a faster server shortens; the rest is the browser handling the mouse). A drag
    ends when `settled` (a JavaScript predicate, after `before` ran ahead of the drag) holds
    once the answer has come."""

    def one(i: int) -> tuple[int, float]:
        source_column = columns[i % (len(columns) - 1)]
        card = page.locator(cards.format(column=source_column)).first
        card.scroll_into_view_if_needed()
        s = card.bounding_box()
        t = page.locator(target.format(column=columns[i % (len(columns) - 1) + 1])).bounding_box()
        x0, y0 = s["x"] + s["width"] / 2, s["y"] + s["height"] / 2
        x1, y1 = t["x"] + t["width"] / 2, t["y"] + 40
        if before:
            page.evaluate(before)
        with page.expect_response(is_move, timeout=10_000) as answer:
            page.mouse.move(x0, y0)
            page.mouse.down()
            for step in range(1, 9):
                page.mouse.move(x0 + (x1 - x0) * step / 8, y0 + (y1 - y0) * step / 8)
            page.mouse.move(x1, y1 + 2)
            page.mouse.up()
            dropped = time.perf_counter()
        status = answer.value.status
        waited = (time.perf_counter() - dropped) * 1000
        # The page's own handling of the answer.
        page.wait_for_function(settled, timeout=10_000)
        return status, waited

    for i in range(3):
        one(i)
    outcomes = []
    t0 = time.perf_counter()
    for i in range(drags):
        outcomes.append(one(i))
    elapsed = time.perf_counter() - t0
    return {
        "drags_per_s": drags / elapsed,
        "ms_per_drag": elapsed * 1000 / drags,
        "drop_to_answer_ms": percentile([w for _, w in outcomes], 0.5),
        # Obeya answers a move 200, Kanboard's board controller 201 (the board redrawn).
        "failed": sum(not 200 <= status < 300 for status, _ in outcomes),
    }


def versions() -> dict:
    import django
    import psycopg
    import uvicorn

    with psycopg.connect(BENCH_DATABASE_URL) as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        autovacuum = conn.execute("SHOW autovacuum").fetchone()[0]
    # The bench's own redis-server is gone by now (servers() stops it): ask the binary.
    redis_info = sh("redis-server", "--version")
    return {
        "python": sys.version.split()[0],
        "django": django.get_version(),
        "uvicorn": uvicorn.__version__,
        "postgres": postgres,
        "autovacuum": autovacuum,
        "redis": re.search(r"v=(\S+)", redis_info).group(1),
        "php": sh("php", "-r", "echo PHP_VERSION;"),
        "opcache": sh(
            "php", "-r", "echo ini_get('opcache.enable') ? 'on' : 'off';"
        ),  # for the cli-server SAPI (enable_cli only concerns plain `php`)
        "sqlite": sh(
            "php",
            "-r",
            'echo (new PDO("sqlite::memory:"))->query("SELECT sqlite_version()")->fetchColumn();',
        ),
        # `wrk -v` prints its version and exits 1.
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1],
    }


def uptime() -> str:
    return sh("uptime").split("load average:")[1].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,8,32", help="concurrent connections, comma list")
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of wrk before measuring")
    parser.add_argument("--cards", type=int, default=500)
    parser.add_argument("--reads", type=int, default=100, help="board reads per side")
    parser.add_argument(
        "--processes",
        default="1,2",
        help="server processes per side, comma list (uvicorn workers = php -S workers)",
    )
    parser.add_argument("--browser", action="store_true", help="also time drags in Chromium")
    parser.add_argument("--drags", type=int, default=30)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "obeya-bench")
    parser.add_argument("--no-append", action="store_true", help="leave bench/RESULTS.md alone")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    processes = [int(p) for p in args.processes.split(",")]
    command = "\n".join(
        [
            f"BENCH_DATABASE_URL={BENCH_DATABASE_URL} BENCH_REDIS_URL={BENCH_REDIS_URL} \\",
            ".venv/bin/python bench/kanboard_compare.py " + " ".join(sys.argv[1:]),
        ]
    )
    load_before = uptime()

    ensure_tools()
    source = ensure_kanboard(args.cache)
    data = args.cache / "kanboard-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)

    setup_django()
    from accounts.models import User

    t0 = time.perf_counter()
    board, token, columns, cards = make_board(args.cards, name="kbcmp")
    owner = User.objects.get(username="kbcmp-owner")
    owner.set_password("bench")
    owner.save(update_fields=["password"])
    print(f"Obeya board: {args.cards} cards in {time.perf_counter() - t0:.0f} s", flush=True)
    # Obeya answers a move to where the card already is 200 with `"moved":false`.
    obeya_lua = lua_script(cards, columns, OBEYA_REQUEST % {"token": token}, None, '"moved":false')

    rows, reads, drags = [], {}, {}
    kb_board = None
    for n in processes:
        queue = f"kbcmp-{uuid.uuid4().hex[:8]}"
        tasks = worker(queue)
        env = {"CELERY_QUEUE": queue, "CACHE_KEY_PREFIX": queue}
        try:
            with servers(1, workers=n, env=env) as (url,), Kanboard(source, data, n) as kb:
                if kb_board is None:
                    t0 = time.perf_counter()
                    kb_board = build_kanboard(kb, args.cards)
                    print(f"Kanboard: {args.cards} tasks in {time.perf_counter() - t0:.0f} s")
                    kb_version = kb.rpc("getVersion")
                    assert kb_version == KANBOARD_VERSION, kb_version
                kb_lua = lua_script(
                    kb_board["tasks"],
                    kb_board["columns"],
                    KANBOARD_REQUEST
                    % {
                        "project": kb_board["project"],
                        "swimlane": kb_board["swimlane"],
                        "auth": kb.auth,
                    },
                    '"result":true',
                    '"result":false',
                )
                run_wrk(url, obeya_lua, 8, args.warmup)
                run_wrk(kb.url, kb_lua, 8, args.warmup)
                for c in clients:
                    vacuum()  # not timed; see common.vacuum
                    o = run_wrk(url, obeya_lua, c, args.duration)
                    k = run_wrk(kb.url, kb_lua, c, args.duration)
                    row = {"processes": n, "clients": c, "obeya": o, "kanboard": k}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                vacuum()
                reads[n] = {
                    mode: read_boards(
                        (url, board, token, cards, columns),
                        kb,
                        kb_board,
                        args.reads,
                        cold=mode == "cold",
                    )
                    for mode in ("warm", "cold")
                }
                print(json.dumps({"processes": n, "reads": reads[n]}), flush=True)
                if args.browser and n == processes[-1]:
                    drags = browser_drags(
                        {
                            "url": url,
                            "board": board,
                            "columns": columns,
                            "username": "kbcmp-owner",
                            "password": "bench",
                        },
                        kb,
                        kb_board,
                        args.drags,
                    )
                    print(json.dumps({"processes": n, "drags": drags}), flush=True)
        finally:
            os.killpg(tasks.pid, signal.SIGTERM)
            tasks.wait(timeout=15)
    load_after = uptime()

    section = report(
        args, command, rows, reads, drags, load_before, load_after, processes, versions()
    )
    print(section)
    if not args.no_append:
        results = ROOT / "bench" / "RESULTS.md"
        with results.open("a") as out:
            out.write("\n" + section)
        print(f"appended to {results}")


def report(args, command, rows, reads, drags, load_before, load_after, processes, v) -> str:
    today = datetime.date.today().isoformat()
    mem = sh("free", "-g").splitlines()[1].split()[1]
    loads = [r[side]["load"] for r in rows for side in ("obeya", "kanboard")]
    lines = [
        f"## Obeya against Kanboard {KANBOARD_VERSION} (`bench/kanboard_compare.py`)",
        "",
        f"{today}, {os.uname().nodename}: {sh('nproc')} cores (`nproc`), {mem} GiB (`free -g`);"
        f" Python {v['python']}, Django {v['django']}, uvicorn {v['uvicorn']}, Postgres"
        f" {v['postgres']}, Redis {v['redis']}; PHP {v['php']} (opcache {v['opcache']}),"
        f" SQLite {v['sqlite']}, wrk {v['wrk']}. Load average before: {load_before}; after:"
        f" {load_after}; 1-minute load at the end of each wrk run: {min(loads):.2f}-"
        f"{max(loads):.2f}.",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Both boards: {args.cards} cards over 5 columns, one swimlane. Obeya: uvicorn with N"
        " workers (`--workers N`, WEB_THREADS 4 each), Postgres and Redis on this machine, one"
        " Celery worker (the checks the moves queue), an API token; its database vacuumed"
        " and analysed (not timed) before each wrk run and before the reads, as autovacuum"
        f" would keep it (this Postgres runs with autovacuum {v['autovacuum']})."
        " Kanboard: `php -S`"
        " (PHP's built-in server; `PHP_CLI_SERVER_WORKERS=N` when N > 1), SQLite (WAL, its"
        " default), the application API token (user `jsonrpc`). The load generator is the same"
        f" for both: wrk (2 threads, 1 at 1 client), {args.duration} s a run after a"
        f" {args.warmup} s warm-up, random cards to random columns, positions 0-5; the two"
        " sides alternate at each concurrency. Failed = not 200, a socket error (connect,"
        ' write, timeout), or (Kanboard) neither `"result":true` nor `"result":false`; no-ops'
        ' = answers to a move to where the card already is (Kanboard\'s `"result":false`,'
        " Obeya's 200 with `\"moved\":false`), counted in both sides' moves/s. Moves/s counts"
        " the answers, failed ones left out; p50 / p99 are wrk's, over every answer.",
        "",
        "| processes | clients | Obeya moves/s | p50 / p99 | Kanboard moves/s | p50 / p99 |"
        " Obeya / Kanboard | failed (O / K) | no-ops (O / K) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        o, k = r["obeya"], r["kanboard"]
        lines.append(
            f"| {r['processes']} | {r['clients']} | **{o['moves']:.0f}** |"
            f" {o['p50']:.1f} / {o['p99']:.1f} ms | **{k['moves']:.0f}** |"
            f" {k['p50']:.1f} / {k['p99']:.1f} ms | {o['moves'] / max(k['moves'], 0.01):.2f}x |"
            f" {o['failures'] + o['socket_errors']} / {k['failures'] + k['socket_errors']} |"
            f" {o['noops']} of {o['requests']} / {k['noops']} of {k['requests']} |"
        )
    examples = {
        (side, r["processes"]): r[side]["example"]
        for r in rows
        for side in ("obeya", "kanboard")
        if r[side]["example"]
    }
    if examples:
        lines.append("")
        lines += [
            f"A failed answer ({side}, {n} processes): `{example}`"
            for (side, n), example in examples.items()
        ]
    lines += [
        "",
        f"Reading the whole board, one client, {args.reads} requests each (alternating), after"
        " 5 warm-up reads: Obeya `GET /api/v1/boards/{id}/` against Kanboard's JSON-RPC"
        " `getBoard`. Warm: nothing changes between reads (Obeya answers from its copy of the"
        " board's JSON for that seq). Cold: each side moves a card before every read (the"
        " move not timed), so every Obeya read builds the board from the database.",
        "",
        "| processes | reads | Obeya median / p95 | size, cards | Kanboard median / p95 |"
        " size, cards |",
        "|---|---|---|---|---|---|",
    ]
    for n in processes:
        for mode in ("warm", "cold"):
            o, k = reads[n][mode]["obeya"], reads[n][mode]["kanboard"]
            lines.append(
                f"| {n} | {mode} | **{o['median']:.1f}** / {o['p95']:.1f} ms |"
                f" {o['bytes'] / 1024:.0f} KiB, {o['cards']} | **{k['median']:.1f}** /"
                f" {k['p95']:.1f} ms | {k['bytes'] / 1024:.0f} KiB, {k['cards']} |"
            )
    if drags:
        o, k = drags["obeya"], drags["kanboard"]
        lines += [
            "",
            f"Browser drags (N = {processes[-1]}, Chromium headless, {args.drags} drags"
            " each, a card to the next column, each waiting for the server's answer):"
            f" Obeya **{o['drags_per_s']:.1f}/s** ({o['ms_per_drag']:.0f} ms a drag, of which"
            f" {o['drop_to_answer_ms']:.0f} ms from the drop to the answer (median);"
            f" {o['failed']} failed), Kanboard **{k['drags_per_s']:.1f}/s**"
            f" ({k['ms_per_drag']:.0f} ms, {k['drop_to_answer_ms']:.0f} ms;"
            f" {k['failed']} failed). Playwright's mouse events (10 a drag) and the pages'"
            " handling of them take most of a drag on both.",
        ]
    else:
        lines += ["", "Browser drags: not measured in this run (`--browser`)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
