"""A loopback server that replays recorded real API exchanges, as they were recorded.

Design note: the project's own fake server (:mod:`fakeserver`) answers from the same
assumptions the client was written from, so it cannot catch a wrong assumption. This one
knows nothing about any wire format: it serves the responses of a recording (see
``tests/recordings/README.md``) in order, one per POST, with the recorded status, the
recorded headers (less the framing ones, which it sets itself) and the recorded body,
byte for byte. A streamed body is sent with chunked transfer encoding, one chunk per
server-sent event, or in pieces of ``split`` bytes (so a client meets events, UTF-8
characters and tags cut anywhere). Every request is kept (path, headers, JSON body) so a
test can compare the follow-up request our client sent with the one the real client
sent in the recording.

Only 127.0.0.1; no threads left behind (``with ReplayServer(rec) as server: ...``).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["RECORDINGS", "Recording", "ReplayServer", "SeenRequest", "load", "recordings"]

RECORDINGS = Path(__file__).parent / "recordings"
_FRAMING = {"content-length", "transfer-encoding", "connection", "content-encoding"}


@dataclass(frozen=True)
class Recording:
    """One recorded exchange: where it came from and its request/response pairs."""

    name: str
    provider: str
    wire: str
    source: dict[str, Any]
    interactions: list[dict[str, Any]]

    def request(self, index: int) -> dict[str, Any]:
        """The JSON body the real client sent in interaction ``index``."""
        return self.interactions[index]["request"]["body"]

    def response(self, index: int) -> dict[str, Any]:
        return self.interactions[index]["response"]


def load(name: str) -> Recording:
    """``"anthropic/thinking_stream"`` → its :class:`Recording`."""
    path = RECORDINGS / f"{name}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return Recording(
        name, data["provider"], data["wire"], data["source"], list(data["interactions"])
    )


def recordings() -> list[str]:
    """Every recording's name (``provider/name``), sorted."""
    return sorted(
        str(p.relative_to(RECORDINGS).with_suffix("")) for p in RECORDINGS.glob("*/*.json")
    )


@dataclass
class SeenRequest:
    """A request the client sent to the replay server."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    raw: bytes = b""


@dataclass
class _State:
    recording: Recording
    split: int | None
    position: int = 0
    seen: list[SeenRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with state.lock:
            state.seen.append(
                SeenRequest(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw
                )
            )
            index = state.position
            state.position += 1
        interactions = state.recording.interactions
        if index >= len(interactions):
            self._send(
                500,
                {"content-type": "application/json"},
                b'{"error": {"message": "replay: no more recorded responses"}}',
            )
            return
        response = interactions[index]["response"]
        headers = {k: v for k, v in response["headers"].items() if k.lower() not in _FRAMING}
        data = response["body"].encode("utf-8")
        if headers.get("content-type", "").startswith("text/event-stream"):
            self._stream(int(response["status"]), headers, data, state.split)
        else:
            self._send(int(response["status"]), headers, data)

    def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, status: int, headers: dict[str, str], data: bytes, split: int | None) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        if split:
            pieces = [data[i : i + split] for i in range(0, len(data), split)]
        else:
            pieces = [p + b"\n\n" for p in data.split(b"\n\n")]
            pieces[-1] = pieces[-1][:-2]
        for piece in pieces:
            if piece:
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class ReplayServer:
    """Serve ``recording``'s responses on 127.0.0.1, one per POST, in order.

    Parameters
    ----------
    recording:
        A :class:`Recording` or its name.
    split:
        Send a streamed body in pieces of this many bytes (default: one per event).
    """

    def __init__(self, recording: Recording | str, *, split: int | None = None) -> None:
        self.recording = load(recording) if isinstance(recording, str) else recording
        self._state = _State(self.recording, split)
        self._server = _Server(self._state)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def seen(self) -> list[SeenRequest]:
        """The requests received so far, in order."""
        return list(self._state.seen)
