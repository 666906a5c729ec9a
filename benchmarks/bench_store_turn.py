"""What one ``%%chat`` turn's store write costs the kernel, old code against new.

    python benchmarks/bench_store_turn.py                       # against main, 5 rounds
    python benchmarks/bench_store_turn.py --baseline 20796ca --rounds 7 --turns 120

After each cell the session's changes (a user and an assistant message, the scalar
fields) and the cell's replay recording are written to SQLite (``StoreLink.flush`` and
``RecordingStore.put``), on a writer thread beside the final display; the cell waits for
them before it returns. This benchmark times exactly that write, in-process, on sessions
of ~20-30 messages (a file store in a temp folder), ``--gap`` seconds apart (a cell
does not follow the last one at once: there is the model's answer), two ways:

* ``sync``: the write on the calling thread (``ChatSession._commit`` + ``put``): its
  CPU time (``time.thread_time``), and how much of it was spent inside sqlite3 calls
  (a ``sqlite3.Connection`` subclass times ``execute``/``executemany``/``commit``): the
  rest is Python work, which holds the GIL.
* ``aside``: the write as a cell makes it (``_writes_aside``): the writer thread's CPU
  time, the main thread's wait in ``settle`` while it does ~0.5 ms of Python work of its
  own meanwhile (a stand-in for the final display), how much longer that work takes than
  alone (GIL contention), and the wake-up delay of a warm writer (``aside()`` to the
  task's first line).

The baseline is the package at ``--baseline`` (a git revision, exported with ``git
archive``); each round runs a child process of each version in turn (interleaved, so a
busy machine hurts both alike) and the table gives medians over rounds of the per-round
medians (and of the per-round means, which count the rare slow turns: a checkpoint),
and new/old ratios. Timings on a shared machine are noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# -- the child: one version of the package, one mode --------------------------------

_in_sqlite: dict[int, float] = {}


def _timed(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            key = threading.get_ident()
            _in_sqlite[key] = _in_sqlite.get(key, 0.0) + time.perf_counter() - t

    return wrapper


class _TimedConnection(sqlite3.Connection):
    execute = _timed(sqlite3.Connection.execute)
    executemany = _timed(sqlite3.Connection.executemany)
    commit = _timed(sqlite3.Connection.commit)


def _spin(n: int) -> int:
    """Python work holding the GIL (a stand-in for the cell's final display)."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def _stamp(into: list[float], clock: Any) -> None:
    into.append(clock())


def _child(mode: str, sessions: int, cycles: int, gap: float) -> dict[str, float]:
    connect = sqlite3.connect
    sqlite3.connect = functools.partial(connect, factory=_TimedConnection)  # type: ignore[assignment]

    from jupychat import ChatSession
    from jupychat._recording import Inputs, Recording
    from jupychat.store import SessionStore
    from jupychat.store.recordings import RecordingStore
    from jupychat.types import Message, Usage

    folder = tempfile.mkdtemp(prefix="bench-turn-")
    store = SessionStore(Path(folder) / "sessions.db")
    records = RecordingStore(store)
    made = 0

    def turn(session: Any) -> tuple[list[Message], Recording]:
        nonlocal made
        made += 1
        prompt = f"question {made} about @df: how are the sales spread by region and month?"
        user = Message.of(
            "user",
            prompt,
            meta={
                "source": "cell",
                "execution_count": made,
                "cell_run": f"{made:012x}",
                "cell_pos": made % 40,
                "cell_source": f"{made * 7919:016x}",
            },
        )
        answer = f"(answer {made}) Group by region and month, then sum: " + "words " * 60
        reply = Message.of(
            "assistant",
            answer,
            model="fake:a",
            usage=Usage(2790 + made, 110),
            finish_reason="stop",
            meta={"latency": 0.8, "ttft": 0.05, "window": {"size": 131072, "used": 3077}},
        )
        inputs = Inputs(
            prompt=f"{made:016x}",
            context={"var:df": f"{made * 31:016x}"},
            model="fake:a",
            options={},
            prompt_text=prompt,
        )
        footer = {"model": "fake:a", "input_tokens": 2790, "output_tokens": 110, "latency": 0.8}
        rec = Recording(inputs, answer, footer, source=f"{made:016x}", cell_id=f"c{made}")
        return [user, reply], rec

    fleet = []
    for n in range(sessions):
        s = ChatSession("fake:a", store=store, notebook=f"/work/nb{n}.ipynb")
        for _ in range(10):  # ~20 messages
            messages, rec = turn(s)
            s._commit(messages)
            records.put(rec, s.notebook)
        fleet.append(s)

    spin_n = 20_000

    out: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        out.setdefault(key, []).append(value * 1000)

    me = threading.get_ident()
    for cycle in range(cycles):
        for s in fleet:
            time.sleep(gap)  # the model's answer: cells do not follow each other at once
            messages, rec = turn(s)
            measured = cycle > 0  # the first cycle starts each session's writer thread
            if mode == "sync":
                _in_sqlite[me] = 0.0
                t, c = time.perf_counter(), time.thread_time()
                s._commit(messages)
                records.put(rec, s.notebook)
                cpu, wall = time.thread_time() - c, time.perf_counter() - t
                if measured:
                    add("write CPU (sync)", cpu)
                    add("write wall (sync)", wall)
                    add("in sqlite3 calls", _in_sqlite[me])
                    add("Python (GIL) part", max(0.0, wall - _in_sqlite[me]))
                continue
            stamps: list[float] = []
            cpu: list[float] = []
            woke: list[float] = []
            link = s._link
            with s._writes_aside():
                t_wake = time.perf_counter()
                link.aside(_stamp, woke, time.perf_counter)
            t = time.perf_counter()
            _spin(spin_n)  # the display work alone, just before: the stretch's baseline
            spin_alone = time.perf_counter() - t
            # the worker is warm now: time the turn's own write
            t0 = time.perf_counter()
            with s._writes_aside():
                link.aside(_stamp, cpu, time.thread_time)
                s._commit(messages)
                link.aside(records.put, rec, s.notebook)
                link.aside(_stamp, cpu, time.thread_time)
                t1 = time.perf_counter()
                _spin(spin_n)
                t2 = time.perf_counter()
                stamps.append(t2)
            t3 = time.perf_counter()
            assert link is s._link
            if measured:
                add("writer CPU (aside)", cpu[1] - cpu[0])
                add("main: display work stretch", (t2 - t1) - spin_alone)
                add("main: wait in settle", t3 - t2)
                add("cell: commit to settled", t3 - t0)
                add("writer wake-up (warm)", woke[0] - t_wake)
    if mode == "sync":  # noise-free counts: Python calls and SQL statements per turn
        calls = [0, 0]
        statements: list[str] = []

        def count(frame: Any, event: str, arg: Any) -> None:
            if event == "call":
                calls[0] += 1
            elif event == "c_call":
                calls[1] += 1

        conn = store._db.connection()
        conn.set_trace_callback(statements.append)
        for s in fleet:
            messages, rec = turn(s)
            sys.setprofile(count)
            s._commit(messages)
            records.put(rec, s.notebook)
            sys.setprofile(None)
        conn.set_trace_callback(None)
        out["Python function calls (count)"] = [calls[0] / len(fleet)]
        out["builtin calls (count)"] = [calls[1] / len(fleet)]
        out["SQL statements (count)"] = [len(statements) / len(fleet)]
    store.close()
    result = {k: statistics.median(v) for k, v in out.items()}
    for key in ("write wall (sync)", "cell: commit to settled"):
        if key in out:  # the mean: with the rare slow turns (a checkpoint's fsyncs)
            result[f"{key}, mean"] = statistics.mean(out[key])
    return result


# -- the parent: versions, rounds, the table ----------------------------------------


def _export(rev: str, into: Path) -> Path:
    archive = into / "src.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _run(src: Path, mode: str, args: argparse.Namespace) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("JUPYCHAT_STORE", None)
    cmd = [sys.executable, str(Path(__file__)), "--child", mode]
    cmd += ["--sessions", str(args.sessions), "--cycles", str(args.cycles)]
    cmd += ["--gap", str(args.gap)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"child failed ({src}):\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git revision of the old code")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--cycles", type=int, default=8, help="turns per session (1 warm-up)")
    parser.add_argument("--gap", type=float, default=0.01, help="seconds between turns")
    parser.add_argument("--child", choices=("sync", "aside"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.sessions, args.cycles, args.gap)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-turn-src-") as tmp:
        old = _export(args.baseline, Path(tmp))
        new = ROOT / "src"
        rows: dict[str, dict[str, list[float]]] = {}
        for _ in range(args.rounds):
            for mode in ("sync", "aside"):
                for label, src in (("old", old), ("new", new)):
                    for key, value in _run(src, mode, args).items():
                        rows.setdefault(key, {}).setdefault(label, []).append(value)
    load = os.getloadavg()
    print(
        f"one turn's store write, {args.rounds} rounds x {args.sessions} sessions x "
        f"{args.cycles - 1} turns; load {load[0]:.2f} {load[1]:.2f}; baseline {args.baseline}"
    )
    print(f"{'ms per turn (median of round medians)':38} {'old':>8} {'new':>8} {'new/old':>8}")
    for key, by in rows.items():
        a, b = statistics.median(by["old"]), statistics.median(by["new"])
        ratio = b / a if a > 0 else float("nan")
        print(f"{key:38} {a:8.3f} {b:8.3f} {ratio:8.2f}")


if __name__ == "__main__":
    main()
