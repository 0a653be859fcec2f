"""A real HTTP server that receives webhooks, for the tests and the bench: it checks every
signature with its own implementation of Standard Webhooks (nothing imported from the app) and
answers as it is told (a list of statuses, or "sleep" for a request it holds past the sender's
timeout)."""

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance: int = 300) -> bool:
    """Standard Webhooks' verification, as a receiver writes it from the spec."""
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived
    answered: int | str

    @property
    def payload(self) -> dict:
        return json.loads(self.body)

    @property
    def msg_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """`script`: what to answer to the next requests, in order (an int status, or "sleep"),
    then `default`. `received`: every request, in arrival order."""

    script: list = field(default_factory=list)
    default: int | str = 200
    sleep: float = 3.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answered_ok(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.answered == 200]

    def _next(self, headers, body) -> int | str:
        with self.lock:
            answer = self.script.pop(0) if self.script else self.default
            self.received.append(Received(headers, body, time.time(), answer))
            return answer


def start_receiver(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            answer = receiver._next({k.lower(): v for k, v in self.headers.items()}, body)
            if answer == "sleep":
                time.sleep(receiver.sleep)
                answer = 200
            self.send_response(int(answer))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
