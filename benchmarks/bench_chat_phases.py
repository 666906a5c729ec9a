"""Where a later chat cell's time goes: its steps timed inside the benchmark's own kernel.

Run: ``python benchmarks/bench_chat_phases.py [--rounds 2] [--extra module:Class.method ...]``

``bench_chat_cells.py`` gives a cell's total against the floor; this runs the same
notebook (10 ``%%chat`` cells naming a 1,000,000 x 20 frame, each followed by the floor
cell) with the turn's main steps wrapped in clocks: the thread's CPU time (what the step
executes, on whichever thread runs it: the store write runs on the writer thread) and
its wall time (CPU plus waiting: for the GIL, a socket, a lock). Per step, the median
over cells 2..N of the per-cell sum. The wrapping itself adds about 1 ms to a chat cell,
so read the steps against each other, not the total against ``bench_chat_cells.py``.

Why both clocks: a step whose code runs once per cell runs cold (its code and data are
not in the CPU caches), several times slower than the same call in a hot loop. The
instruction count (``bench_chat_instructions.py``) cannot see that; these clocks do.

It also splits each cell's wall time (from ``pre_run_cell`` to ``post_run_cell``, the
server's time included) in three, for the chat cells and the floor cells alike: up to the
answer's first bytes (the turn's preparation, the request, the server's work), while the
answer streams (first to last bytes read), and after its last bytes (the final display,
the store write). Both cells read the same answer the same way (``httpx.Response.
iter_raw`` underneath), so where the chat cell's extra time sits shows there. Seen
2026-12-04: streaming took the same in both (~10 ms); the chat cell's ~3 ms more were
~1.5 ms before the first bytes and ~1.6 ms after the last.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_chat_cells as cells

STEPS = [
    ("jupychat.notebook.replay", "ensure_model"),
    ("jupychat.notebook.binding", "NotebookChat.prepare"),
    ("jupychat.notebook.namespace", "describe_named"),
    ("jupychat.context.frame_fingerprint", "fingerprint"),
    ("jupychat.notebook.replay", "begin"),
    ("jupychat._turnrunner", "begin"),
    ("jupychat._storelink", "StoreLink.sync"),
    ("jupychat.session", "ChatSession._context_blocks"),
    ("jupychat.notebook.namespace", "_inventory"),
    ("jupychat._turnrunner", "fit_turn"),
    ("jupychat.providers._stream", "_request_body"),
    ("httpx", "Client.send"),
    ("jupychat._turnrunner", "finish"),
    ("jupychat.notebook.engine", "TurnRun.finished"),
    ("jupychat.notebook.replay", "CellTurn.recorded"),
    ("jupychat.notebook.render", "StreamRenderer.finish"),
    ("jupychat.markdown", "render"),
    ("IPython.core.display_functions", "publish_display_data"),
    ("jupychat._storelink", "StoreLink.settle"),
    ("jupychat._storelink", "StoreLink._flush_with"),
    ("jupychat.store.sqlite", "SessionStore.commit"),
    ("jupychat.store.recordings", "_row"),
    ("jupychat.notebook.binding", "NotebookChat.ask"),
]

SEGMENTS = ("before the first bytes", "streaming", "after the last bytes")

CLOCKS = """
import time as _t, functools as _ft, importlib as _il
_ph, _phs, _kind = {}, [], [None]
def _clock(modname, attr):
    owner_name, _, name = attr.rpartition(".")
    owner = _il.import_module(modname)
    if owner_name:
        owner = getattr(owner, owner_name)
    fn = getattr(owner, name)
    key = f"{modname}:{attr}"
    @_ft.wraps(fn)
    def timed(*a, **k):
        c0, w0 = _t.thread_time(), _t.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            got = _ph.setdefault(key, [0.0, 0.0])
            got[0] += _t.thread_time() - c0
            got[1] += _t.perf_counter() - w0
    setattr(owner, name, timed)
for _m, _a in STEPS:
    _clock(_m, _a)
import httpx as _hx
_raw_of, _stamps = _hx.Response.iter_raw, {}
def _iter_raw(self, chunk_size=None):  # the answer's first and last bytes, either cell
    for _chunk in _raw_of(self, chunk_size):
        _stamps.setdefault("first", _t.perf_counter())
        yield _chunk
    _stamps["last"] = _t.perf_counter()
_hx.Response.iter_raw = _iter_raw
def _pre_steps(info):
    raw = info.raw_cell or ""
    _kind[0] = "chat" if raw.startswith("%%chat") else "floor" if "_client.stream" in raw else None
    _ph.clear()
    _stamps.clear()
    _stamps["pre"] = _t.perf_counter()
def _post_steps(result):
    if _kind[0]:
        end = _t.perf_counter()
        first, last = _stamps.get("first", end), _stamps.get("last", end)
        _ph["segment:before the first bytes"] = [0.0, first - _stamps["pre"]]
        _ph["segment:streaming"] = [0.0, last - first]
        _ph["segment:after the last bytes"] = [0.0, end - last]
        _phs.append([_kind[0], {k: list(v) for k, v in _ph.items()}])
get_ipython().events.register("pre_run_cell", _pre_steps)
get_ipython().events.register("post_run_cell", _post_steps)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--extra",
        nargs="*",
        default=[],
        metavar="MODULE:ATTR",
        help="more steps to time, e.g. jupychat.store.records:message_row",
    )
    args = parser.parse_args()
    steps = STEPS + [tuple(x.split(":", 1)) for x in args.extra]
    load = f"{cells.LOAD}\nSTEPS = {steps!r}\n{CLOCKS}"
    report = "print(json.dumps([_cpu, _tcpu, _phs]))"
    per: dict[str, dict[str, list[tuple[float, float]]]] = {"chat": {}, "floor": {}}
    totals: dict[str, list[float]] = {"chat": [], "floor": []}
    proc, url = cells.spawn()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                run: dict[str, Any] = cells.one_round(url, 10, 200, tmp, load, report)
                os.remove(f"{tmp}/store.db")
                totals["chat"] += run["chat"][1:]
                totals["floor"] += run["floor"][1:]
                seen = {"chat": 0, "floor": 0}
                for kind, phases in run["extra"][0]:
                    seen[kind] += 1
                    if seen[kind] == 1:  # the first cell of each kind is a cold start
                        continue
                    for key, (cpu, wall) in phases.items():
                        per[kind].setdefault(key, []).append((cpu, wall))
                print(f"round {r + 1} done", flush=True)
    finally:
        proc.terminate()
        proc.wait()
    print("\nwall ms per cell (median of cells 2..N; the server's time included)")
    print(f"  {'segment':<30}{'chat':>9}{'floor':>9}{'chat - floor':>14}")
    for segment in SEGMENTS:
        got = [statistics.median(w for _, w in per[k][f"segment:{segment}"]) * 1e3 for k in per]
        print(f"  {segment:<30}{got[0]:>9.2f}{got[1]:>9.2f}{got[0] - got[1]:>+14.2f}")
    for kind in ("chat", "floor"):
        total = statistics.median(totals[kind]) * 1e3
        print(f"\n{kind} cells 2..N: {total:.2f} ms (kernel time - server time, clocks on)")
        print(f"  {'step':<58}{'cpu ms':>9}{'wall ms':>9}")
        for module, attr in steps:
            got = per[kind].get(f"{module}:{attr}")
            if not got:
                continue
            cpu = statistics.median(c for c, _ in got) * 1e3
            wall = statistics.median(w for _, w in got) * 1e3
            print(f"  {module.removeprefix('jupychat.') + ':' + attr:<58}{cpu:>9.3f}{wall:>9.3f}")


if __name__ == "__main__":
    main()
