"""Retries, backoff, timeouts and fault mapping of the HTTP providers.

Unit tier: the sans-IO pieces of ``providers._retry`` and ``providers._errors``
(Retry-After parsing, backoff, the retry decision, redaction, error-body shapes). Loopback tier: every fault the fake
server can script, for both wire formats, through both the sync and the async driver.
"""

from __future__ import annotations

import socket
import time
from email.utils import formatdate

import httpx
import pytest

from fakeserver import collect
from fixtures_server import fake_server
from jupychat import config
from jupychat.errors import (
    AuthenticationError,
    ConfigError,
    ModelNotFoundError,
    ProtocolError,
    ProviderUnavailable,
    RateLimitError,
)
from jupychat.events import Done, TextDelta
from jupychat.providers._errors import (  # sans-IO internals: the unit tier (see above)
    Endpoint,
    ErrorInfo,
    error_info,
    map_error,
    redact,
)
from jupychat.providers._retry import RetryPolicy, RetryState, parse_retry_after
from jupychat.providers.anthropic import anthropic_provider
from jupychat.providers.base import ChatRequest
from jupychat.providers.openai import compatible_provider
from jupychat.types import Message

__all__ = ["fake_server"]  # the loopback server fixture, imported so pytest finds it here

KEY = "sk-proj-RETRYTESTSECRET0123456789"
ENDPOINT = Endpoint(
    "openai",
    "gpt-x",
    "https://api.example/v1/chat/completions",
    {"authorization": f"Bearer {KEY}"},
    "openai",
    "OPENAI_API_KEY",
    (KEY,),
)


# ----------------------------------------------------------------- sans-IO: timing


def test_retry_after_seconds_http_date_and_ms():
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    now = time.time()
    future = formatdate(now + 30, usegmt=True)
    assert 28 <= parse_retry_after({"retry-after": future}, now=now) <= 30
    past = formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    policy = RetryPolicy(max_retries=5, backoff=0.5, max_backoff=3.0)
    lows = [policy.delay(n, rand=lambda: 0.0) for n in range(5)]
    highs = [policy.delay(n, rand=lambda: 1.0) for n in range(5)]
    assert lows == [0.25, 0.5, 1.0, 1.5, 1.5]
    assert highs == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(0, retry_after=2.0) == 2.0
    assert policy.delay(0, retry_after=60.0) == 3.0  # the server's wait, capped


def test_policy_reads_settings_and_rejects_nonsense():
    config.set_override("max_retries", 7)
    config.set_override("backoff", 0.125)
    policy = RetryPolicy.from_config()
    assert (policy.max_retries, policy.backoff, policy.max_backoff) == (7, 0.125, 20.0)
    assert RetryPolicy.from_config(max_retries=1).max_retries == 1
    config.set_override("backoff", "fast")
    with pytest.raises(ConfigError, match="backoff"):
        RetryPolicy.from_config()


# --------------------------------------------------------------- sans-IO: decisions


def test_retry_state_retries_retryable_statuses_then_raises():
    for status in (429, 500, 502, 503, 504, 529):
        state = RetryState(RetryPolicy(2, 0.01, 0.02), ENDPOINT)
        assert state.after_status(status, {}, b"") > 0
        assert state.after_status(status, {}, b"") > 0
        with pytest.raises((RateLimitError, ProviderUnavailable), match="after 2 retries"):
            state.after_status(status, {}, b"")


def test_retry_state_uses_retry_after_and_reports_it_when_exhausted():
    state = RetryState(RetryPolicy(1, 0.01, 5.0), ENDPOINT)
    assert state.after_status(429, {"retry-after": "3"}, b"") == 3.0
    with pytest.raises(RateLimitError) as info:
        state.after_status(429, {"retry-after": "4"}, b"")
    assert info.value.retry_after == 4.0
    assert "wait 4 s" in str(info.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_client_errors_are_never_retried(status):
    state = RetryState(RetryPolicy(5, 0.01, 0.02), ENDPOINT)
    with pytest.raises(Exception) as info:
        state.after_status(status, {}, b'{"error": {"message": "no"}}')
    assert state.retries == 0
    assert getattr(info.value, "status_code", None) == status


def test_transport_errors_retry_only_before_the_first_event():
    state = RetryState(RetryPolicy(3, 0.01, 0.02), ENDPOINT)
    assert state.after_transport_error(httpx.ConnectError("refused"), started=False) > 0
    assert state.after_transport_error(httpx.ReadTimeout("slow"), started=False) > 0
    with pytest.raises(ProviderUnavailable, match="mid-answer"):
        state.after_transport_error(httpx.RemoteProtocolError("peer closed"), started=True)
    fresh = RetryState(RetryPolicy(3, 0.01, 0.02), ENDPOINT)
    with pytest.raises(ProviderUnavailable):
        fresh.after_transport_error(httpx.UnsupportedProtocol("ftp"), started=False)
    assert fresh.retries == 0


# ------------------------------------------------------------- sans-IO: messages


def test_redact_removes_keys_and_token_shapes():
    text = f"bad key {KEY}; Authorization: Bearer abc.def; x-api-key: zzz; other sk-live-123456"
    out = redact(text, [KEY])
    assert KEY not in out and "abc.def" not in out and "zzz" not in out
    assert "sk-live-123456" not in out
    assert out.count("[redacted]") >= 4


def test_error_info_understands_common_body_shapes():
    assert error_info(b'{"error": {"message": "m", "type": "t", "code": "c"}}').code == "c"
    anthropic = error_info(
        b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
    )
    assert (anthropic.type, anthropic.message) == ("overloaded_error", "Overloaded")
    assert error_info(b'{"error": "model not found"}').message == "model not found"
    assert error_info(b'{"detail": "Not Found"}').message == "Not Found"
    assert error_info(b"<html>502</html>").message == "<html>502</html>"
    assert error_info(b"") == error_info(b"  ") == ErrorInfo()


def test_messages_are_one_line_truncated_and_keyless():
    body = {"error": {"message": f"line one\nline two {KEY} " + "x" * 1000}}
    exc = map_error(500, error_info(body), ENDPOINT)
    message = str(exc)
    assert "\n" not in message and KEY not in message
    assert len(message) < 400
    assert message.startswith("openai is unavailable")


# ------------------------------------------------------------- loopback fault matrix


@pytest.fixture(params=["openai", "anthropic"])
def api(request):
    return request.param


@pytest.fixture(params=["sync", "async"])
def mode(request):
    return request.param


def make(api: str, server, **options):
    options = {"api_key": KEY, "backoff": 0.005, "max_backoff": 0.05, "max_retries": 2, **options}
    if api == "openai":
        return compatible_provider(f"fake-model@{server.openai_base_url}", **options)
    return anthropic_provider("claude-fake", base_url=server.anthropic_base_url, **options)


def run(provider, mode, sink=None):
    return collect(provider, ChatRequest([Message.of("user", "hello")]), mode, sink)


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def test_401_is_not_retried_and_names_the_fix(fake_server, api, mode):
    fake_server.enqueue(status=401)
    with pytest.raises(AuthenticationError) as info:
        run(make(api, fake_server), mode)
    assert len(fake_server.requests) == 1
    env = "OPENAI_COMPATIBLE_API_KEY" if api == "openai" else "ANTHROPIC_API_KEY"
    assert env in str(info.value) and "%chat key" in str(info.value)
    assert KEY not in str(info.value) and KEY[:12] not in str(info.value)


def test_404_names_the_model(fake_server, api, mode):
    fake_server.enqueue(status=404)
    with pytest.raises(ModelNotFoundError) as info:
        run(make(api, fake_server), mode)
    model = "fake-model" if api == "openai" else "claude-fake"
    assert f"'{model}'" in str(info.value)
    assert len(fake_server.requests) == 1


def test_429_with_retry_after_is_retried_then_succeeds(fake_server, api, mode):
    fake_server.enqueue(status=429, retry_after=0.2)
    fake_server.enqueue("after the wait")
    began = time.perf_counter()
    events = run(make(api, fake_server, max_backoff=1.0), mode)
    elapsed = time.perf_counter() - began
    assert text_of(events) == "after the wait"
    assert len(fake_server.requests) == 2
    assert elapsed >= 0.2  # honoured the server's Retry-After, not the 5 ms backoff
    first, second = fake_server.requests
    assert first.raw == second.raw  # the same request, nothing duplicated


def test_429_exhausted_raises_rate_limit_with_retry_after(fake_server, api, mode):
    for _ in range(3):
        fake_server.enqueue(status=429, retry_after="0.01")
    with pytest.raises(RateLimitError) as info:
        run(make(api, fake_server), mode)
    assert info.value.retry_after == 0.01
    assert info.value.status_code == 429
    assert len(fake_server.requests) == 3  # first try + max_retries


@pytest.mark.parametrize("status", [500, 503, 529])
def test_server_errors_are_retried_with_backoff_then_unavailable(fake_server, api, mode, status):
    for _ in range(4):
        fake_server.enqueue(status=status)
    began = time.perf_counter()
    with pytest.raises(ProviderUnavailable, match=f"HTTP {status}") as info:
        run(make(api, fake_server, backoff=0.04, max_backoff=1.0), mode)
    elapsed = time.perf_counter() - began
    assert len(fake_server.requests) == 3
    assert elapsed >= 0.04 * 0.5 * (1 + 2)  # two backoffs, each at least half its base
    assert info.value.status_code == status


def test_server_error_then_success(fake_server, api, mode):
    fake_server.enqueue(status=529)
    fake_server.enqueue("recovered")
    assert text_of(run(make(api, fake_server), mode)) == "recovered"
    assert len(fake_server.requests) == 2


def test_drop_mid_stream_after_text_is_not_retried(fake_server, api, mode):
    fake_server.enqueue("abcdefghijklmnopqrstuvwxyz", chunk_size=2, drop_after=6)
    fake_server.enqueue("should never be fetched")
    sink: list = []
    with pytest.raises(ProviderUnavailable, match="mid-answer"):
        run(make(api, fake_server), mode, sink)
    assert text_of(sink) and "abcdefghijklmnopqrstuvwxyz".startswith(text_of(sink))
    assert not any(isinstance(e, Done) for e in sink)
    assert len(fake_server.requests) == 1
    assert fake_server.pending == 1


def test_drop_before_any_event_is_retried(fake_server, api, mode):
    fake_server.enqueue("lost", drop_after=0)
    fake_server.enqueue("second try")
    assert text_of(run(make(api, fake_server), mode)) == "second try"
    assert len(fake_server.requests) == 2


def test_malformed_chunk_is_a_protocol_error(fake_server, api, mode):
    fake_server.enqueue("text", malformed=True)
    with pytest.raises(ProtocolError, match="not JSON"):
        run(make(api, fake_server), mode)
    assert len(fake_server.requests) == 1


def test_slow_chunks_hit_the_read_timeout(fake_server, api, mode):
    for _ in range(2):
        fake_server.enqueue("slow", chunk_delay=2.0)
    began = time.perf_counter()
    with pytest.raises(ProviderUnavailable, match="did not answer in time"):
        run(make(api, fake_server, timeout=0.1, max_retries=1), mode)
    # waiting for the slow chunks would take 2 s per attempt (4 s): it gave up on both long
    # before (~0.3 s idle); the bound leaves room for a busy CI machine
    assert time.perf_counter() - began < 3.5
    assert len(fake_server.requests) == 2  # nothing was yielded, so it was retried once


def test_read_timeout_comes_from_settings(fake_server, api):
    config.set_override("read_timeout", 0.1)
    fake_server.enqueue("slow", chunk_delay=0.5)
    with pytest.raises(ProviderUnavailable, match="read_timeout"):
        run(make(api, fake_server, max_retries=0), "sync")


def test_server_hanging_up_before_answering_gets_one_free_retry(fake_server, api, mode):
    fake_server.enqueue(hangup=True)
    fake_server.enqueue("fresh connection")
    assert text_of(run(make(api, fake_server, max_retries=0), mode)) == "fresh connection"
    assert len(fake_server.requests) == 2
    fake_server.enqueue(hangup=True)
    fake_server.enqueue(hangup=True)
    with pytest.raises(ProviderUnavailable, match="disconnected"):
        run(make(api, fake_server, max_retries=0), mode)
    assert len(fake_server.requests) == 4


def test_unreachable_server_is_retried_then_unavailable(api, mode):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    options = {"api_key": KEY, "backoff": 0.001, "max_backoff": 0.002, "max_retries": 2}
    if api == "openai":
        provider = compatible_provider(f"m@http://127.0.0.1:{port}/v1", **options)
    else:
        provider = anthropic_provider("m", base_url=f"http://127.0.0.1:{port}", **options)
    with pytest.raises(ProviderUnavailable, match=r"cannot reach .* after 2 retries"):
        run(provider, mode)


def test_chained_causes_carry_no_key_headers(fake_server, api):
    fake_server.enqueue(status=401)
    with pytest.raises(AuthenticationError) as info:
        run(make(api, fake_server), "sync")
    cause = info.value.__cause__
    assert isinstance(cause, httpx.HTTPStatusError)
    assert cause.response.status_code == 401 and cause.response.content
    assert KEY not in repr(cause.request.headers) and KEY not in str(cause.response.request.headers)
    fake_server.enqueue("x", drop_after=2, chunk_size=1)
    with pytest.raises(ProviderUnavailable) as info:
        run(make(api, fake_server, max_retries=0), "sync")
    transport_cause = info.value.__cause__
    assert isinstance(transport_cause, httpx.TransportError)
    assert KEY not in repr(transport_cause.request.headers)
