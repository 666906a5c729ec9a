"""A chat cell's own work in instructions: ``%%chat`` cells against the bare-httpx floor.

Run: ``python benchmarks/bench_chat_instructions.py [--cells 2] [--cache-sim]
[--warmup 4]`` (needs ``valgrind``: ``apt-get install -y valgrind``; about two minutes,
five with ``--cache-sim``; ``--warmup 100``: the cells after a 100-turn conversation).

Why a second benchmark: ``bench_chat_cells.py`` times cells in a real kernel, and on a
small shared machine its ratio moves by ±0.1 from one round to the next. This one counts
the CPU instructions the cells execute under callgrind, which do not depend on the load,
so a change of 1 % shows. It leaves out what only a clock sees (waiting on a socket, the
store writer competing for the cores, the real caches), so it complements the timed
benchmark and never replaces it.

What it runs: an IPython shell in a child process (no kernel, no network). The provider's
answer is the fake server's streamed 200-token answer, recorded once and replayed by an
``httpx.MockTransport``, so both cells read the same 226 chunks. The shell holds a
20,000 × 20 DataFrame ``df`` (a later cell's work does not depend on the row count: the
description is cached and the change check reads a fixed 64 rows). Four warm-up turns
run first; then ``--cells`` chat cells (``%%chat`` naming ``@df``), or as many floor
cells (the same request with bare httpx, the SSE lines parsed, one ``display``), run
inside ``itertools.starmap`` and only those calls are counted
(``--toggle-collect=starmap_next``). Hash seeds are fixed and live re-rendering is
switched off, so a run's count does not depend on how slowly valgrind runs it.

``--cache-sim`` also simulates the caches and the branch predictor (callgrind's
``--cache-sim=yes --branch-sim=yes``, about twice as slow) and prints the misses, the
mispredicted branches and an estimate of the cycles: L1 hits + 5 × LL hits + 35 × RAM
reads (Itamar Turner-Trauring's weights, pythonspeed.com "consistent benchmarking in CI",
which iai and iai-callgrind use), plus 15 per mispredicted branch (our own rough weight).

What it found (2026-12-03): the two cells execute nearly the same instructions (chat
1.03-1.04× the floor) while the clock gives the chat cell 1.3-1.5× the floor's CPU time.
The simulated misses explain part of that: the chat cell has ~2× the floor's L1 data
read misses, 1.26× its instruction-cache misses and 1.38× its mispredicted indirect
branches (the interpreter's dispatch over more distinct code): about 1.1× in cycles. The
rest is what no simulator here models (L2, TLB, a cache shared with other tenants). So a change that removes
instructions from the chat cell helps less than its count suggests, and one that makes
the cell touch less code and data may help more than its count shows.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOKENS = 200


def record_chunks(path: Path) -> int:
    """The fake server's streamed answer, as the raw chunks httpx reads, pickled."""
    import httpx

    sys.path.insert(0, str(ROOT / "tests"))
    from fakeserver import spawn

    proc, url = spawn()
    try:
        answer = " ".join(f"w{i}" for i in range(TOKENS))
        httpx.post(f"{url}/_script", json=[{"text": answer, "chunk_size": len(answer) // TOKENS}])
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
            chunks = list(response.iter_raw())
    finally:
        proc.terminate()
        proc.wait()
    path.write_bytes(pickle.dumps(chunks))
    return len(chunks)


def child(mode: str, cells: int, chunks_path: str, tmp: str, warmup: int = 4) -> None:
    """The measured process: warm up, then run the cells inside ``itertools.starmap``."""
    import contextlib
    import io
    import itertools
    import json

    import httpx

    chunks = pickle.loads(Path(chunks_path).read_bytes())

    class Replay(httpx.SyncByteStream):
        def __iter__(self):  # type: ignore[override]
            yield from chunks

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Replay())

    client = httpx.Client(transport=httpx.MockTransport(handler), timeout=None)
    os.environ.update(
        {
            "JUPYCHAT_STORE": f"{tmp}/store.db",
            "JUPYCHAT_CONFIG": f"{tmp}/config.toml",
            "JUPYCHAT_MODEL": "openai-compatible:gpt-4o-mini@http://127.0.0.1:9/v1",
        }
    )
    from IPython.core.interactiveshell import InteractiveShell

    import jupychat.providers._stream as stream_module
    import jupychat.providers._transport as transport

    transport._shared = client  # every provider request goes to the replay
    shell = InteractiveShell.instance()
    out = io.StringIO()

    def run(code: str) -> None:
        with contextlib.redirect_stdout(out):
            result = shell.run_cell(code)
        if result.error_in_exec or result.error_before_exec:
            sys.stderr.write(out.getvalue()[-3000:])
            raise SystemExit(f"a cell failed: {result.error_in_exec or result.error_before_exec}")

    run(
        "import json\nimport numpy as np, pandas as pd\n"
        "from IPython.display import Markdown, display\n"
        "rng = np.random.default_rng(0)\n"
        "df = pd.DataFrame({f'c{i}': rng.normal(size=20_000) for i in range(20)})"
    )
    shell.user_ns["_client"] = client
    run("%load_ext jupychat")
    run("%config ChatMagics.stream_interval = 1000.0")  # one display at the end, as at speed
    bodies: list[bytes] = []
    make_body = stream_module._request_body

    def keep_body(payload: object) -> bytes:
        body = make_body(payload)  # type: ignore[arg-type]
        bodies.append(body)
        return body

    stream_module._request_body = keep_body  # the floor sends the chat's own last request
    for i in range(warmup):
        run(f"%%chat\nwarm-up {i}: what is in @df?")
    shell.user_ns["_body"] = json.loads(bodies[-1])
    floor = (HERE / "bench_chat_cells.py").read_text().split('FLOOR = """')[1].split('"""')[0]
    floor = floor.replace("_url + ", "'http://127.0.0.1:9' + ")
    run(floor)

    def one(i: int) -> None:
        run(f"%%chat\nIn one line, what is in @df? (question {i})" if mode == "chat" else floor)

    list(itertools.starmap(one, [(i,) for i in range(cells)]))


#: What ``--cache-sim`` prints, in callgrind's names (see :func:`estimated_cycles`).
SIMULATED = ("I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw", "Bcm", "Bim")


def estimated_cycles(events: dict[str, int]) -> float:
    """Cycles estimated from simulated events: L1 hits + 5 × LL hits + 35 × RAM reads
    (pythonspeed.com's weights), + 15 × mispredicted branches."""
    accesses = events["Ir"] + events["Dr"] + events["Dw"]
    l1_misses = events["I1mr"] + events["D1mr"] + events["D1mw"]
    ram = events["ILmr"] + events["DLmr"] + events["DLmw"]
    branches = events["Bcm"] + events["Bim"]
    return (accesses - l1_misses) + 5 * (l1_misses - ram) + 35 * ram + 15 * branches


def count(
    mode: str, cells: int, chunks_path: Path, tmp: str, simulate: bool = False, warmup: int = 4
) -> dict[str, int]:
    """Callgrind's events for ``cells`` cells of ``mode`` (``Ir``: instructions; with
    ``simulate``, the cache and branch events too), summed over the cells."""
    out = Path(tmp) / f"callgrind.{mode}.out"
    cmd = [
        "valgrind",
        "--tool=callgrind",
        *(["--cache-sim=yes", "--branch-sim=yes"] if simulate else []),
        "--toggle-collect=starmap_next",
        f"--callgrind-out-file={out}",
        sys.executable,
        __file__,
        "--child",
        mode,
        "--cells",
        str(cells),
        "--chunks",
        str(chunks_path),
        "--tmp",
        tmp,
        "--warmup",
        str(warmup),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    names = re.search(r"Events\s*:\s*([\w ]+)", done.stderr)
    found = re.search(r"Collected\s*:\s*([\d ]+)", done.stderr)
    if done.returncode != 0 or names is None or found is None:
        raise SystemExit(f"the {mode} run failed:\n{done.stderr[-2000:]}")
    return dict(zip(names.group(1).split(), map(int, found.group(1).split()), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2)
    parser.add_argument(
        "--cache-sim",
        action="store_true",
        help="also simulate the caches and branch predictor (about twice as slow)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=4,
        help="turns before the counted cells (more: how a cell's work grows with history)",
    )
    parser.add_argument("--child", choices=["chat", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--chunks", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.cells, args.chunks, args.tmp, args.warmup)
        return
    if shutil.which("valgrind") is None:  # skipped, not failed: the code is not at fault
        print("skipped: valgrind is not installed; install it (apt-get install -y valgrind)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        chunks = Path(tmp) / "chunks.pkl"
        n = record_chunks(chunks)
        figures: dict[str, dict[str, int]] = {}
        for mode in ("chat", "floor"):
            with tempfile.TemporaryDirectory(dir=tmp) as run_tmp:
                figures[mode] = count(
                    mode, args.cells, chunks, run_tmp, args.cache_sim, args.warmup
                )
    print(
        f"answer: {TOKENS} tokens in {n} chunks; {args.cells} cells each, "
        f"after {args.warmup} warm-up turns"
    )
    print(f"{'per cell':<24}{'%%chat':>14}{'floor':>14}{'ratio':>9}")

    def line(label: str, chat: float, floor: float) -> None:
        ratio = f"{chat / floor:8.3f}x" if floor else f"{'-':>9}"
        print(f"{label:<24}{chat / args.cells:>14,.0f}{floor / args.cells:>14,.0f}{ratio}")

    chat, floor = figures["chat"], figures["floor"]
    line("instructions (Ir)", chat["Ir"], floor["Ir"])
    if args.cache_sim:
        for name in SIMULATED:
            line(name, chat[name], floor[name])
        line("estimated cycles", estimated_cycles(chat), estimated_cycles(floor))
    print(f"ratio chat/floor: {chat['Ir'] / floor['Ir']:.3f}x in instructions")


if __name__ == "__main__":
    main()
