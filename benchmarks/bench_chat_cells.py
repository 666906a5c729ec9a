"""A chat cell's own cost: ten ``%%chat`` cells through nbclient against a bare-httpx floor.

Run: ``python benchmarks/bench_chat_cells.py [--cells 10] [--rounds 3] [--tokens 200]
[--after-load FILE]``

What it measures
----------------
A real ipykernel runs a notebook through nbclient (``record_timing``: the kernel stamps
``execute_input`` when it starts a cell and ``execute_reply`` when it is done, so the
figure is the kernel's own time for the cell). The fake provider server runs in its own
process, streams ``--tokens`` chunks with no delay and records how long it spent on each
request; that time is subtracted, leaving what the client side costs.

- **chat cell:** ``%%chat`` naming a 1,000,000 × 20 DataFrame with ``@df``: the prompt
  is expanded, the frame's description is looked up (cached after the first cell), the
  whole conversation is sent, the answer streams live into the cell and the turn is
  stored (SQLite, durable before the cell returns).
- **floor cell:** right after each chat cell, in the same kernel, the *same* request body
  (read back from the server) sent with bare httpx on one client kept open, the SSE lines
  read and parsed, and the text shown with one ``display(Markdown(...))``.

Cells alternate chat, floor, chat, floor… so both see the same machine state. The table
gives the median of cells 2..N (cell 1 describes the frame cold and opens the store) and
the ratio chat/floor. Target: ≤ 1.25×.

With ``--cells 40`` or more it also prints how the cells' thread CPU grows with the
conversation (cells 2..11 against the last 10): a turn's own work should not grow with
the history before it; the floor's does a little (``json.dumps`` of the whole body).

To tell whether a change moved these figures, run ``ab_chat_cells.py``: it alternates
rounds of this tree and of a git ref's (the machine's noise is often larger than a change).
``--after-load FILE`` runs that file's Python in the kernel right after ``%load_ext``
(an idea tried as a patch, before it is written: ``ab_chat_cells.py --patch FILE``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakeserver import spawn  # noqa: E402

SETUP = """
import json, os, httpx
import numpy as np, pandas as pd
from IPython.display import Markdown, display
rng = np.random.default_rng(0)
df = pd.DataFrame({f"c{i}": rng.normal(size=1_000_000) for i in range(20)})
_url = os.environ["BENCH_URL"]
_client = httpx.Client(timeout=30)
import time as _time
_cpu = []  # kernel CPU seconds (all threads) per cell, from pre_run_cell to post_run_cell
_tcpu = []  # the same for the cell's own thread only (writer and iopub threads left out)
_cpu0 = _time.process_time()
_tcpu0 = _time.thread_time()
def _pre(info):
    global _cpu0, _tcpu0
    _cpu0 = _time.process_time()
    _tcpu0 = _time.thread_time()
def _post(result):
    _cpu.append(_time.process_time() - _cpu0)
    _tcpu.append(_time.thread_time() - _tcpu0)
get_ipython().events.register("pre_run_cell", _pre)
get_ipython().events.register("post_run_cell", _post)
"""

LOAD = "%load_ext jupychat"

FETCH = "_body = httpx.get(_url + '/_requests').json()[-1]['body']"

FLOOR = """
_parts = []
with _client.stream("POST", _url + "/v1/chat/completions", json=_body,
                    headers={"authorization": "Bearer none"}) as _r:
    for _line in _r.iter_lines():
        if _line.startswith("data: ") and _line != "data: [DONE]":
            _choices = json.loads(_line[6:]).get("choices") or []
            if _choices and _choices[0]["delta"].get("content"):
                _parts.append(_choices[0]["delta"]["content"])
display(Markdown("".join(_parts)))
"""


def _stamp(cell: Any, key: str) -> datetime:
    return datetime.fromisoformat(cell.metadata["execution"][key].replace("Z", "+00:00"))


def kernel_seconds(cell: Any) -> float:
    """Kernel time for one cell: from its execute_input to its execute_reply."""
    return (
        _stamp(cell, "shell.execute_reply") - _stamp(cell, "iopub.execute_input")
    ).total_seconds()


CPU_REPORT = "print(json.dumps([_cpu, _tcpu]))"


def server_seconds(url: str) -> tuple[list[float], list[float]]:
    """The server's handling time of each chat cell's requests and of each floor cell's.

    A floor cell re-sends the body of the request before it; the requests since the
    last floor's are its chat cell's: its turn, and the summary requests of a long
    conversation's compaction, when one came (past ~100 turns at a 128k window)."""
    timings = httpx.get(f"{url}/_timings").json()
    bodies = [r["body"] for r in httpx.get(f"{url}/_requests", timeout=120).json()]
    chat: list[float] = []
    floor: list[float] = []
    spent = 0.0
    for i, seconds in enumerate(timings):
        if i and bodies[i] == bodies[i - 1] and spent:  # the floor's copy of its chat's
            chat.append(spent)
            floor.append(seconds)
            spent = 0.0
        else:
            spent += seconds
    return chat, floor


def one_round(
    url: str, cells: int, tokens: int, tmp: str, load: str = LOAD, report: str = CPU_REPORT
) -> dict[str, Any]:
    """One notebook run; ``load`` and ``report`` replace the load cell and the last cell
    (``bench_chat_phases.py`` adds its clocks there; what ``report`` prints after the CPU
    lists comes back as ``extra``)."""
    import nbformat
    from nbclient import NotebookClient

    answer = " ".join(f"w{i}" for i in range(tokens))
    script = {"text": answer, "chunk_size": max(1, len(answer) // tokens)}
    httpx.post(f"{url}/_reset")
    httpx.post(f"{url}/_script", json=[script] * (2 * cells))
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(SETUP))
    nb.cells.append(nbformat.v4.new_code_cell(load))
    chat_idx, floor_idx = [], []
    for i in range(cells):
        chat_idx.append(len(nb.cells))
        nb.cells.append(
            nbformat.v4.new_code_cell(f"%%chat\nIn one line, what is in @df? (question {i})")
        )
        nb.cells.append(nbformat.v4.new_code_cell(FETCH))
        floor_idx.append(len(nb.cells))
        nb.cells.append(nbformat.v4.new_code_cell(FLOOR))
    nb.cells.append(nbformat.v4.new_code_cell(report))
    env = {
        **os.environ,
        "BENCH_URL": url,
        "JUPYCHAT_STORE": f"{tmp}/store.db",
        "JUPYCHAT_CONFIG": f"{tmp}/config.toml",
        "JUPYCHAT_MODEL": f"openai-compatible:gpt-4o-mini@{url}/v1",  # a known 128k window
        "PYTHONPATH": str(ROOT / "src"),
    }
    client = NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=True)
    old = dict(os.environ)
    os.environ.update(env)
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    chat_server, floor_server = server_seconds(url)
    assert len(floor_server) == cells, f"expected {cells} floor requests, saw {len(floor_server)}"
    chat = [kernel_seconds(nb.cells[c]) - chat_server[k] for k, c in enumerate(chat_idx)]
    floor = [kernel_seconds(nb.cells[c]) - floor_server[k] for k, c in enumerate(floor_idx)]
    # _cpu[i] is the CPU of cell i (the setup cell's entry counts from the hooks' setup)
    cpu, thread, *extra = json.loads(nb.cells[-1].outputs[0]["text"])
    return {
        "load": [kernel_seconds(nb.cells[1])],
        "chat": chat,
        "floor": floor,
        "chat_cpu": [cpu[c] for c in chat_idx],
        "floor_cpu": [cpu[c] for c in floor_idx],
        "chat_thread": [thread[c] for c in chat_idx],
        "floor_thread": [thread[c] for c in floor_idx],
        "extra": extra,
    }


JAI_SETUP = """
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
df = pd.DataFrame({f"c{i}": rng.normal(size=1_000_000) for i in range(20)})
"""


def jupyter_ai_round(url: str, cells: int, tokens: int, kernel: str) -> dict[str, list[float]]:
    """The same notebook with jupyter-ai's ``%%ai`` cells, in a kernel of its own env.

    jupyter-ai-magics (2.x) asks without streaming and names the frame by ``{df}``
    interpolation (its repr); the server's handling time is subtracted as for ours.
    """
    import nbformat
    from nbclient import NotebookClient

    answer = " ".join(f"w{i}" for i in range(tokens))
    httpx.post(f"{url}/_reset")
    httpx.post(f"{url}/_script", json=[{"text": answer}] * cells)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(JAI_SETUP))
    nb.cells.append(nbformat.v4.new_code_cell("%load_ext jupyter_ai_magics"))
    for i in range(cells):
        nb.cells.append(
            nbformat.v4.new_code_cell(
                f"%%ai openai-chat:gpt-4o-mini\nIn one line, what is in {{df}}? (question {i})"
            )
        )
    old = dict(os.environ)
    os.environ.update(
        {
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_API_BASE": f"{url}/v1",
            "OPENAI_BASE_URL": f"{url}/v1",
        }
    )
    try:
        NotebookClient(nb, timeout=300, kernel_name=kernel, record_timing=True).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    server = httpx.get(f"{url}/_timings").json()
    assert len(server) == cells, f"jupyter-ai: expected {cells} requests, server saw {len(server)}"
    return {
        "load": [kernel_seconds(nb.cells[1])],
        "chat": [kernel_seconds(nb.cells[2 + k]) - server[k] for k in range(cells)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument(
        "--after-load",
        metavar="FILE",
        help="Python to run in the kernel right after %%load_ext (a patch to try)",
    )
    parser.add_argument(
        "--jupyter-ai-kernel",
        metavar="NAME",
        help="also run jupyter-ai's %%%%ai cells in this kernel (an env with jupyter-ai-magics)",
    )
    args = parser.parse_args()
    load = LOAD
    if args.after_load:
        load += "\n" + Path(args.after_load).read_text(encoding="utf-8")
    proc, url = spawn()
    runs: list[dict[str, Any]] = []
    jai: list[dict[str, list[float]]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                run = one_round(url, args.cells, args.tokens, tmp, load=load)
                os.remove(f"{tmp}/store.db")
                runs.append(run)
                if args.jupyter_ai_kernel:  # interleaved with ours, round by round
                    jai.append(
                        jupyter_ai_round(url, args.cells, args.tokens, args.jupyter_ai_kernel)
                    )
                print(
                    f"round {r + 1}: chat cells 2..{args.cells} median "
                    f"{statistics.median(run['chat'][1:]) * 1e3:.1f} ms, floor "
                    f"{statistics.median(run['floor'][1:]) * 1e3:.1f} ms"
                )
    finally:
        proc.terminate()
        proc.wait()

    def later(key: str) -> float:
        return statistics.median(v for run in runs for v in run[key][1:]) * 1e3

    def first(key: str) -> float:
        return statistics.median(run[key][0] for run in runs) * 1e3

    figures = {
        "first_chat_ms": first("chat"),
        "chat_ms": later("chat"),
        "floor_ms": later("floor"),
        "chat_cpu_ms": later("chat_cpu"),
        "floor_cpu_ms": later("floor_cpu"),
        "chat_thread_ms": later("chat_thread"),
        "floor_thread_ms": later("floor_thread"),
    }
    figures["load_plus_first_ms"] = (
        statistics.median(run["load"][0] + run["chat"][0] for run in runs) * 1e3
    )
    figures["ratio"] = figures["chat_ms"] / figures["floor_ms"]
    if jai:
        figures["jai_chat_ms"] = statistics.median(v for r in jai for v in r["chat"][1:]) * 1e3
        figures["jai_load_plus_first_ms"] = (
            statistics.median(r["load"][0] + r["chat"][0] for r in jai) * 1e3
        )
    figures["cpu_ratio"] = figures["chat_cpu_ms"] / figures["floor_cpu_ms"]
    figures["thread_ratio"] = figures["chat_thread_ms"] / figures["floor_thread_ms"]
    if args.cells >= 40:  # does a cell cost more as the conversation grows?
        for key in ("chat_thread", "floor_thread"):
            figures[f"{key}_early_ms"] = (
                statistics.median(v for run in runs for v in run[key][1:11]) * 1e3
            )
            figures[f"{key}_late_ms"] = (
                statistics.median(v for run in runs for v in run[key][-10:]) * 1e3
            )
    print()
    print(
        f"median over {args.rounds} rounds; wall = kernel time - server time; cpu = kernel "
        "CPU (all threads); thread = the cell's own thread's CPU"
    )
    print(f"{'cell':<44}{'wall ms':>9}{'cpu ms':>9}{'thread':>9}")
    print(
        f"{'first %%chat cell (describes df cold)':<44}{figures['first_chat_ms']:>9.1f}"
        f"{first('chat_cpu'):>9.1f}{first('chat_thread'):>9.1f}"
    )
    print(
        f"{'%%chat cells 2..N':<44}{figures['chat_ms']:>9.1f}{figures['chat_cpu_ms']:>9.1f}"
        f"{figures['chat_thread_ms']:>9.1f}"
    )
    print(
        f"{'bare httpx + display, same body (floor)':<44}{figures['floor_ms']:>9.1f}"
        f"{figures['floor_cpu_ms']:>9.1f}{figures['floor_thread_ms']:>9.1f}"
    )
    print(
        f"ratio chat/floor: wall {figures['ratio']:.2f}x, cpu {figures['cpu_ratio']:.2f}x, "
        f"thread {figures['thread_ratio']:.2f}x (target <= 1.25x)"
    )
    print(f"%load_ext jupychat + first cell: {figures['load_plus_first_ms']:.1f} ms")
    if "chat_thread_late_ms" in figures:
        grew = {
            key: figures[f"{key}_thread_late_ms"] - figures[f"{key}_thread_early_ms"]
            for key in ("chat", "floor")
        }
        print(
            f"growth over {args.cells} turns (thread ms, cells 2..11 -> last 10): chat "
            f"{figures['chat_thread_early_ms']:.1f} -> {figures['chat_thread_late_ms']:.1f} "
            f"({grew['chat']:+.1f}), floor {figures['floor_thread_early_ms']:.1f} -> "
            f"{figures['floor_thread_late_ms']:.1f} ({grew['floor']:+.1f}; its json.dumps of "
            "the growing body)"
        )
    if jai:
        print(
            f"jupyter-ai %%ai cells 2..N: {figures['jai_chat_ms']:.1f} ms -> ours/theirs "
            f"{figures['chat_ms'] / figures['jai_chat_ms']:.2f}x (target <= 0.5x)"
        )
        print(
            f"jupyter-ai load + first cell: {figures['jai_load_plus_first_ms']:.1f} ms -> "
            f"ours/theirs {figures['load_plus_first_ms'] / figures['jai_load_plus_first_ms']:.2f}x"
            " (target <= 0.2x)"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
