"""A recording ``httpx.MockTransport`` handler for the providers' unit tests.

Not a test module. :class:`Recorder` answers every request with one canned response and
keeps the requests, so a test can read what a provider sent (``rec.json`` is the last
request's body) without a server.
"""

from __future__ import annotations

import json

import httpx

__all__ = ["Recorder"]


class Recorder:
    """A MockTransport handler that records requests and plays back one response."""

    def __init__(
        self,
        body: bytes = b"",
        status: int = 200,
        content_type: str = "text/event-stream",
        headers: dict | None = None,
    ):
        self.requests: list[httpx.Request] = []
        self.body, self.status, self.content_type = body, status, content_type
        self.headers = headers or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(
            self.status,
            content=self.body,
            headers={"content-type": self.content_type, **self.headers},
        )

    @property
    def json(self) -> dict:
        """The body of the last request, parsed."""
        return json.loads(self.requests[-1].content)
