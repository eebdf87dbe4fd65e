"""A local stand-in for the Hugging Face Hub's file-download endpoint, for offline tests.

Serves what huggingface_hub 2.x's download path asks for (``get_hf_file_metadata`` then
``http_get``): ``HEAD`` and ``GET /{owner}/{repo}/resolve/{revision}/{filename}`` answered
with ``X-Repo-Commit``, a quoted sha256 ``ETag``, ``Content-Length`` and ``Accept-Ranges``;
``GET`` with ``Range: bytes=N-`` (or ``N-M``) gets ``206`` + ``Content-Range``. Unknown repos
and files get ``404`` with the ``X-Error-Code`` the real hub sends, so huggingface_hub raises
``RepositoryNotFoundError`` / ``RemoteEntryNotFoundError``.

Failure knobs, consumed in this order by the next GETs: ``drop_gets`` GETs send the headers
and ``drop_after`` body bytes, then close the connection; ``fail_gets`` GETs answer 503.
Every request is recorded in ``requests``.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names

    @property
    def range_start(self) -> int | None:
        match = _RANGE.match(self.headers.get("range", ""))
        return int(match.group(1)) if match else None


class FakeHub:
    """``with FakeHub() as hub: hub.add("o/r", "f.gguf", data); ... hub.url``."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.requests: list[Request] = []
        self.drop_gets = 0
        self.drop_after = 0
        self.fail_gets = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, repo_id: str, filename: str, data: bytes) -> None:
        self.files[(repo_id, filename)] = data

    def gets(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET"]

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _record(self, request: Request) -> str:
        """Log ``request``; return the failure mode it gets: "drop", "fail" or ""."""
        with self._lock:
            self.requests.append(request)
            if request.method != "GET":
                return ""
            if self.drop_gets:
                self.drop_gets -= 1
                return "drop"
            if self.fail_gets:
                self.fail_gets -= 1
                return "fail"
            return ""


def silent_server() -> socket.socket:
    """A listening socket that never accepts: connections open, but no answer ever comes."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def refused_url() -> str:
    """An http://127.0.0.1 URL where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _make_handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep captured stderr for the progress bar only

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, *, body: bool) -> None:
            path = urlsplit(self.path).path
            headers = {k.lower(): v for k, v in self.headers.items()}
            mode = hub._record(Request(self.command, path, headers))
            match = _RESOLVE.match(path)
            if match is None:
                return self._error(404, "RepoNotFound")
            repo, filename = unquote(match["repo"]), unquote(match["file"])
            if not any(r == repo for r, _ in hub.files):
                return self._error(404, "RepoNotFound")
            data = hub.files.get((repo, filename))
            if data is None:
                return self._error(404, "EntryNotFound")
            if mode == "fail":
                return self._error(503, "")
            start, end = 0, len(data)
            range_match = _RANGE.match(headers.get("range", "")) if body else None
            if range_match:
                start = int(range_match.group(1))
                if range_match.group(2):
                    end = min(end, int(range_match.group(2)) + 1)
                if start >= len(data):
                    return self._error(416, "")
            self.send_response(206 if range_match else 200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(end - start))
            if range_match:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            self.end_headers()
            if not body:
                return None
            if mode == "drop":
                self.wfile.write(data[start : start + hub.drop_after])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return None
            self.wfile.write(data[start:end])
            return None

        def _error(self, status: int, code: str) -> None:
            payload = f'{{"error": "{code or status}"}}'.encode()
            self.send_response(status)
            self.send_header("X-Repo-Commit", COMMIT)
            if code:
                self.send_header("X-Error-Code", code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

    return Handler
