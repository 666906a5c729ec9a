"""A streamed answer reads the same whatever the body's content coding: identity bodies
are read raw (no decoding step per chunk, issue 22), gzip/deflate ones are decoded."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jupychat import ChatSession

WORDS = [f"w{i} " for i in range(40)]


def sse_body() -> bytes:
    events = [
        {"choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in WORDS
    ]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return text.encode()


CODINGS = {
    "identity": lambda b: b,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
}


@pytest.fixture
def server():
    class Handler(BaseHTTPRequestHandler):
        coding = "identity"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = CODINGS[type(self).coding](sse_body())
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            if type(self).coding != "identity":
                self.send_header("content-encoding", type(self).coding)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 37):  # many small chunks
                piece = body[i : i + 37]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, Handler
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("coding", list(CODINGS))
def test_an_answer_reads_the_same_in_every_content_coding(server, coding):
    httpd, handler = server
    handler.coding = coding
    url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    session = ChatSession(model=f"openai-compatible:m@{url}", store=None)
    pieces = list(session.stream("hi"))
    assert "".join(pieces) == "".join(WORDS)
    assert session.history[-1].text == "".join(WORDS)

    async def ask_async():
        return [piece async for piece in session.astream("again")]

    assert "".join(asyncio.run(ask_async())) == "".join(WORDS)
    assert session.history[-1].text == "".join(WORDS)
