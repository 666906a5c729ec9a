"""Benchmark the sessions REST API and the sessions browser page of the server extension.

    python benchmarks/bench_server.py              # 500 sessions, one of 2,000 messages
    python benchmarks/bench_server.py --sessions 100 --big 400 --runs 10   # quick run

Starts a real Jupyter Server on 127.0.0.1 (jupychat loaded from the installed config)
over a temporary store, then times each request over a kept-alive HTTP connection:
the list of the 50 latest sessions, a full-text search, one page of 200 messages (JSON),
a page of 200 messages as the rendered transcript (HTML with Markdown) both for messages
never shown before and for a page seen before (the Markdown cache), and a Markdown export
of the whole big session. Jupyter's own ``GET /api/status`` is printed as the floor.

Each figure is printed next to a baseline measured in the same run: the same store call
made directly in this process (``SessionStore.sessions`` / ``load`` / ``export``), so the
ratio is what HTTP, auth, scrubbing, JSON and HTML rendering add on top of the store.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from jupychat.store import SessionStore

REPLY = (
    "Here is how to do it (step {i}):\n\n```python\n"
    "df.groupby('region')['sales'].sum().plot.bar()\n```\n\n"
    "| region | sales |\n|---|---|\n| north | {i} |\n| south | 12 |\n\n"
    "The **north** region sells less; see `df.describe()` for details."
)


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def fill(store: SessionStore, sessions: int, big: int) -> str:
    def turn(i: int) -> list[dict[str, object]]:
        return [
            {"role": "user", "content": [{"type": "text", "text": f"question {i} about sales"}]},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": REPLY.format(i=i)}],
                "usage": {"input_tokens": 100, "output_tokens": 50},
                "model": "fake:echo",
            },
        ]

    for s in range(sessions - 1):
        store.create(
            messages=turn(s) + turn(s + 1), notebook=f"nb{s % 20}.ipynb", model="fake:echo"
        )
    messages = [m for i in range(big // 2) for m in turn(i)]
    return store.create(messages=messages, title="The big one", model="fake:echo")


def start_server(base: Path, store: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYCHAT_STORE": str(store),
        "JUPYTER_CONFIG_DIR": str(base / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(base / "rt"),
        "JUPYTER_DATA_DIR": str(base / "data"),
    }
    (base / "root").mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={base / 'root'}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(
                    f"{url}/jupychat/api/sessions", headers={"Authorization": f"token {token}"}
                ).status_code
                == 200
            ):
                return proc, url, token
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("Jupyter Server with jupychat did not start (is `pip install -e .` done?)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--big", type=int, default=2000, help="messages in the big session")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        base = Path(tmp)
        store = SessionStore(base / "sessions.db")
        big = fill(store, args.sessions, args.big)
        proc, url, token = start_server(base, base / "sessions.db")
        try:
            with httpx.Client(headers={"Authorization": f"token {token}"}, timeout=60) as http:
                api = f"{url}/jupychat/api/sessions"

                def get(target: str, **params: object) -> Callable[[], object]:
                    def call() -> object:
                        response = http.get(target, params=params)
                        response.raise_for_status()
                        return response

                    return call

                export_path = base / "export.md"
                window = iter(range(10**6))

                def uncached() -> object:  # a new window of unseen messages each time
                    offset = (next(window) * 211) % max(1, args.big - 200)
                    response = http.get(f"{url}/jupychat/sessions/{big}", params={"offset": offset})
                    response.raise_for_status()
                    return response

                rows = [
                    ("list 50 latest", get(api), lambda: store.sessions(limit=51)),
                    (
                        "search 'sales'",
                        get(api, q="sales"),
                        lambda: store.sessions(limit=51, search="sales"),
                    ),
                    (
                        "200 messages (JSON)",
                        get(f"{api}/{big}"),
                        lambda: store.load(big, messages_limit=200),
                    ),
                    (
                        "200 messages (HTML, first view)",
                        uncached,
                        lambda: store.load(big, messages_limit=200),
                    ),
                    (
                        "200 messages (HTML, seen before)",
                        get(f"{url}/jupychat/sessions/{big}"),
                        lambda: store.load(big, messages_limit=200),
                    ),
                    (
                        f"export {args.big} messages (md)",
                        get(f"{api}/{big}/export", format="markdown"),
                        lambda: store.export(big, export_path, format="markdown"),
                    ),
                ]
                print(
                    f"{args.sessions} sessions; big session {args.big} messages; "
                    f"median of {args.runs} runs"
                )
                floor = median_ms(get(f"{url}/api/status"), args.runs)
                print(f"floor: Jupyter's own GET /api/status takes {floor:.2f} ms\n")
                print(f"{'request':<34} {'HTTP ms':>9} {'store ms':>9} {'ratio':>7}")
                for name, http_call, direct in rows:
                    over_http = median_ms(http_call, args.runs)
                    baseline = median_ms(direct, args.runs)
                    print(
                        f"{name:<34} {over_http:>9.2f} {baseline:>9.2f} "
                        f"{over_http / baseline:>6.1f}x"
                    )
        finally:
            proc.terminate()
            proc.wait(15)
            store.close()


if __name__ == "__main__":
    main()
