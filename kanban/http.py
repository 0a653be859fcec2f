"""HTTP for the ASGI server: Django's WSGI handler on a fixed pool of threads.

Every view here is synchronous. Django's own ASGI handler started a thread per request and
hopped between it and the event loop several times a request; a general WSGI adapter (a2wsgi)
still hopped for the body, the status line, each part and the end, and read the body in the
handler's thread. Here a request costs one hop: the body is read on the loop (whole, up to the
path's limit, so a slow upload holds no thread), the handler runs in a pool thread with a
context of its own, and an ordinary response comes back whole. Streamed responses (CSV exports,
static files) are iterated on a pool of their own, so that long downloads leave the handlers
free, and stop when the client goes away. Measured in bench/RESULTS.md.
"""

import asyncio
import contextvars
import io
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kanban.middleware import body_limit, payload_too_large


class ThreadedWSGI:
    def __init__(self, app, *, threads: int, stream_threads: int) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")
        self.streams = ThreadPoolExecutor(max_workers=stream_threads, thread_name_prefix="stream")

    async def __call__(self, scope, receive, send) -> None:
        assert scope["type"] == "http"
        limit = body_limit(scope["path"])
        body = b""
        # Larger: RequestBodyLimitMiddleware answers 413.
        if limit is None or _declared_length(scope) <= limit:
            chunks, size = [], 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                # Sent without a Content-Length, and too long.
                if limit is not None and size > limit:
                    await _send_whole(send, _response_of(payload_too_large(limit)))
                    return
                if not message.get("more_body"):
                    break
            body = b"".join(chunks)
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # nothing request-scoped leaks between requests
        status, headers, response = await loop.run_in_executor(
            self.executor, context.run, self._call_app, environ(scope, body)
        )
        if isinstance(response, bytes):
            await _send_whole(send, (status, headers, response))
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        gone = threading.Event()
        watcher = loop.create_task(_watch_disconnect(receive, gone))
        try:
            await loop.run_in_executor(
                self.streams, context.run, _stream, response, loop, send, gone
            )
        finally:
            watcher.cancel()

    def _call_app(self, environ: dict[str, Any]) -> tuple[int, list, Any]:
        started: list = []

        def start_response(status: str, headers, exc_info=None):
            started[:] = [
                int(status.split(" ", 1)[0]),
                [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers],
            ]

        response = self.app(environ, start_response)
        if getattr(response, "streaming", True):
            return started[0], started[1], response  # iterated on the streams' pool
        try:  # Django's ordinary response: whole, and closed in the thread that made it
            return started[0], started[1], b"".join(response)
        finally:
            response.close()


def _stream(response, loop, send, gone: threading.Event) -> None:
    """Send a streamed response's parts as they are produced, until the client goes away."""
    try:
        for part in response:
            if gone.is_set():
                return
            if part:
                message = {"type": "http.response.body", "body": part, "more_body": True}
                asyncio.run_coroutine_threadsafe(send(message), loop).result()
        asyncio.run_coroutine_threadsafe(send({"type": "http.response.body"}), loop).result()
    finally:
        getattr(response, "close", lambda: None)()


async def _watch_disconnect(receive, gone: threading.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


def _declared_length(scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _response_of(response) -> tuple:
    headers = [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in response.items()]
    return response.status_code, headers, response.content


async def _send_whole(send, whole: tuple) -> None:
    status, headers, body = whole
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def environ(scope, body: bytes) -> dict[str, Any]:
    """The WSGI environ of an ASGI HTTP scope (PEP 3333: strings are latin-1 decoded bytes)."""
    script_name = scope.get("root_path", "").encode("utf8").decode("latin1")
    path = scope["path"].encode("utf8").decode("latin1")
    if script_name and path.startswith(script_name):
        path = path[len(script_name) :]
    server = scope.get("server") or ("localhost", 80)
    result = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1] or 0),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if scope.get("client"):
        result["REMOTE_ADDR"], result["REMOTE_PORT"] = scope["client"][0], str(scope["client"][1])
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin1"), raw_value.decode("latin1")
        if "_" in name:
            # `X_Forwarded_For` would become HTTP_X_FORWARDED_FOR too, and pass for the header
            # a proxy set: dropped, as nginx and gunicorn drop them.
            continue
        if name == "content-length":
            key = "CONTENT_LENGTH"
        elif name == "content-type":
            key = "CONTENT_TYPE"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        result[key] = f"{result[key]},{value}" if key in result else value
    if "CONTENT_LENGTH" not in result and body:  # sent chunked: Django reads CONTENT_LENGTH
        result["CONTENT_LENGTH"] = str(len(body))
    return result
