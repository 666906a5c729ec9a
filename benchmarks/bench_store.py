"""Benchmark the SQLite session store at scale.

    python benchmarks/bench_store.py            # 10,000 sessions, 1,000,000 messages
    python benchmarks/bench_store.py --messages 100000 --sessions 1000   # quick run

Builds a store with ``--sessions`` sessions holding ``--messages`` messages in total (one
session holds ``--big`` of them), written straight into the store's tables with
``executemany`` in large transactions (the FTS5 index is kept by the schema's triggers),
then measures through ``SessionStore``:

* appending a turn (a prompt and a reply) — p50 and p99 over ``--appends`` appends;
* loading the big session; listing the 50 latest; full-text search for a common word
  and for a rare one; opening a store and running its first query.

Each figure is printed next to a baseline measured in the same run on the same file:
the same SQL through a bare ``sqlite3`` connection, without our code (validation, JSON,
dict building, locking, retries). Targets: append p50 < 2 ms, load < 100 ms,
list < 20 ms, search < 100 ms. What one notebook turn's write costs the kernel (the
session's changes and the cell's recording, old code against new) is
``bench_store_turn.py``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from _timing import COMMON_RANK, RARE, pct, synthetic_message, timed, vocabulary, zipf_weights

from jupychat.store import SessionStore
from jupychat.store.records import MessageRow, message_row
from jupychat.store.sqlite import SEARCH_SCAN
from jupychat.types import Message, Usage


def fill_next_seq(conn: sqlite3.Connection) -> None:
    """Set ``sessions.next_seq`` as the store keeps it (schema m005+): the number the next
    message gets. Rows written here by hand leave it behind."""
    if any(r[1] == "next_seq" for r in conn.execute("PRAGMA table_info(sessions)")):
        conn.execute(
            "UPDATE sessions SET next_seq = (SELECT coalesce(max(seq), -1) + 1 FROM messages "
            "WHERE session_pk = sessions.pk)"
        )


def build(path: Path, sessions: int, messages: int, big: int, seed: int) -> dict[str, object]:
    """Fill a fresh store; returns facts the measurements need."""
    rng = random.Random(seed)
    with SessionStore(path) as store:
        store.sessions()  # create the schema through our migrations
    words = vocabulary(rng)
    cum = zipf_weights(words)  # Zipf-like word frequencies
    common = words[COMMON_RANK]

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -200000")
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    base = time.time() - 400 * 86400
    session_rows = []
    for n in range(sessions):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + n * 3000))
        session_rows.append(
            (
                f"{n:032x}",
                f"session {n}",
                None,
                f"/work/nb{n % 50}.ipynb",
                stamp + ".000000+00:00",
                stamp + ".500000+00:00",
                "fake:echo",
                None,
                "{}",
                json.dumps({"project": f"p{n % 20}"}),
                "[]",
                10,
                "{}",
                "{}",
            )
        )
    conn.executemany(
        "INSERT INTO sessions (id, title, name, notebook, created_at, updated_at, model, "
        "system_prompt, memory, metadata, tools, max_steps, settings, extra) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        session_rows,
    )
    pks = [r[0] for r in conn.execute("SELECT pk FROM sessions ORDER BY pk")]
    counts = [big] + [0] * (sessions - 1)
    rest = messages - big
    for i in range(1, sessions):
        counts[i] = rest // (sessions - 1) + (1 if i <= rest % (sessions - 1) else 0)
    rare_at = set(rng.sample(range(messages), 5))
    insert = (
        f"INSERT INTO messages (session_pk, seq, {', '.join(MessageRow._fields)}) "
        f"VALUES ({', '.join('?' * (len(MessageRow._fields) + 2))})"
    )
    batch: list[tuple[object, ...]] = []
    made = 0
    for pk, count in zip(pks, counts, strict=True):
        for seq in range(count):
            message = synthetic_message(rng, words, cum, seq, made in rare_at, finish_reason="stop")
            # the exact row the store writes for this message (validation included)
            batch.append((pk, seq, *message_row(message)))
            made += 1
            if len(batch) >= 50_000:
                conn.executemany(insert, batch)
                batch.clear()
    conn.executemany(insert, batch)
    conn.execute(
        "UPDATE sessions SET (message_count, input_tokens, output_tokens) = (SELECT count(*), "
        "coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0) FROM messages "
        "WHERE session_pk = sessions.pk)"
    )
    fill_next_seq(conn)
    conn.execute("COMMIT")
    conn.execute("INSERT INTO messages_fts(messages_fts) VALUES('optimize')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    return {
        "build_s": time.perf_counter() - t0,
        "common": common,
        "big_id": f"{0:032x}",
        "big_pk": pks[0],
        "ids": [r[0] for r in session_rows],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--appends", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to build (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", type=Path, default=None, help="measure a kept database")
    args = parser.parse_args()

    if args.reuse:  # measure again on a database kept by an earlier --keep run
        facts = json.loads(Path(f"{args.reuse}.facts.json").read_text())
        measure(args.reuse, facts, args)
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-store-", dir=args.dir))
    path = folder / "sessions.db"
    try:
        facts = build(path, args.sessions, args.messages, args.big, args.seed)
        if args.keep:
            Path(f"{path}.facts.json").write_text(json.dumps(facts))
        print(
            f"built {args.sessions:,} sessions / {args.messages:,} messages in "
            f"{facts['build_s']:.1f} s; file {path.stat().st_size / 1e6:.0f} MB"
        )
        measure(path, facts, args)
    finally:
        if args.keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def measure(path: Path, facts: dict[str, object], args: argparse.Namespace) -> None:
    rng = random.Random(args.seed + 1)
    ids: list[str] = facts["ids"]  # type: ignore[assignment]
    big_id, big_pk, common = str(facts["big_id"]), facts["big_pk"], str(facts["common"])
    rows: list[tuple[str, float, float, str]] = []
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA synchronous = NORMAL")

    t = time.perf_counter()
    fresh = SessionStore(path)
    fresh.exists(big_id)
    open_ms = (time.perf_counter() - t) * 1000
    fresh.close()
    t = time.perf_counter()
    bare = sqlite3.connect(path)
    bare.execute("SELECT 1 FROM sessions WHERE id = ?", (big_id,)).fetchone()
    open_base = (time.perf_counter() - t) * 1000
    bare.close()
    rows.append(("open + first query", open_ms, open_base, ""))

    store = SessionStore(path)
    store.sessions(limit=1)
    turn = [
        Message.of("user", "How do I merge two data frames on a key column?").to_dict(),
        Message.of(
            "assistant",
            "Use pd.merge(left, right, on='key', how='inner').",
            model="fake:echo",
            usage=Usage(120, 30),
            finish_reason="stop",
        ).to_dict(),
    ]
    targets = [rng.choice(ids) for _ in range(args.appends)]
    ours = []
    for sid in targets:
        t = time.perf_counter()
        store.append_messages(sid, turn, {"metadata": {"project": "bench"}})
        ours.append((time.perf_counter() - t) * 1000)
    prepared = [message_row(m) for m in turn]
    insert = (
        f"INSERT INTO messages (session_pk, seq, {', '.join(MessageRow._fields)}) "
        f"VALUES ({', '.join('?' * (len(MessageRow._fields) + 2))})"
    )
    base = []
    for sid in targets:
        t = time.perf_counter()
        raw.execute("BEGIN IMMEDIATE")
        pk, count = raw.execute(
            "SELECT pk, message_count FROM sessions WHERE id = ?", (sid,)
        ).fetchone()
        for k, row in enumerate(prepared):
            raw.execute(insert, (pk, count + k, *row))
        raw.execute(
            "UPDATE sessions SET message_count = message_count + 2, input_tokens = "
            "input_tokens + 120, output_tokens = output_tokens + 30, updated_at = ?, "
            "metadata = ? WHERE pk = ?",
            ("2030-01-01T00:00:00.000000+00:00", "{}", pk),
        )
        raw.execute("COMMIT")
        base.append((time.perf_counter() - t) * 1000)
    fill_next_seq(raw)  # untimed: a --reuse run's store appends after the bare ones
    rows.append(("append turn p50", pct(ours, 50), pct(base, 50), "< 2 ms"))
    rows.append(("append turn p99", pct(ours, 99), pct(base, 99), ""))

    load = timed(lambda: store.load(big_id), 7)
    n_big = len(store.load(big_id)["messages"])
    load_base = timed(
        lambda: raw.execute(
            "SELECT * FROM messages WHERE session_pk = ? ORDER BY seq", (big_pk,)
        ).fetchall(),
        7,
    )
    rows.append(
        (
            f"load {n_big:,}-message session",
            statistics.median(load),
            statistics.median(load_base),
            "< 100 ms",
        )
    )

    listing = timed(lambda: store.sessions(limit=50), 30)
    list_base = timed(
        lambda: raw.execute(
            "SELECT id, title, name, notebook, model, created_at, updated_at, message_count, "
            "input_tokens, output_tokens, metadata FROM sessions ORDER BY updated_at DESC "
            "LIMIT 50"
        ).fetchall(),
        30,
    )
    rows.append(
        ("list 50 latest", statistics.median(listing), statistics.median(list_base), "< 20 ms")
    )
    nb = timed(lambda: store.sessions(limit=50, notebook="/work/nb7.ipynb"), 30)
    rows.append(
        (
            "list 50 latest of a notebook",
            statistics.median(nb),
            statistics.median(list_base),
            "< 20 ms",
        )
    )

    hits = raw.execute(
        "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?", (f'"{common}"',)
    ).fetchone()[0]
    # Baseline: the same newest-first, bm25-ranked scan in bare SQL (no grouping, no
    # snippets); for reference, also bm25 over *every* match, which is what a naive
    # "ORDER BY rank" costs for a common word.
    window = f"LIMIT {SEARCH_SCAN}"
    for label, word in (
        (f"search common word ({hits:,} messages)", common),
        (f"search rare word '{RARE}'", RARE),
    ):
        found = timed(lambda w=word: store.sessions(search=w), 5)
        found_base = timed(
            lambda w=word: raw.execute(
                "SELECT f.rowid, f.rank, m.session_pk FROM messages_fts f JOIN messages m "
                f"ON m.id = f.rowid WHERE messages_fts MATCH ? ORDER BY f.rowid DESC {window}",
                (f'"{w}"',),
            ).fetchall(),
            5,
        )
        rows.append((label, statistics.median(found), statistics.median(found_base), "< 100 ms"))
    naive = timed(
        lambda: raw.execute(
            "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rank LIMIT 50",
            (f'"{common}"',),
        ).fetchall(),
        3,
    )
    rows.append(("(raw bm25 over all matches, common word)", statistics.median(naive), 0.0, ""))
    assert store.sessions(search=RARE), "the rare word was not found"
    store.close()
    raw.close()

    wal = Path(f"{path}-wal")
    wal_mb = wal.stat().st_size / 1e6 if wal.exists() else 0.0
    print(f"database file: {path.stat().st_size / 1e6:.0f} MB (+ WAL {wal_mb:.1f} MB)")
    print(f"{'operation':42} {'ours ms':>9} {'raw sqlite ms':>14} {'ratio':>7}  target")
    for label, value, baseline, target in rows:
        if not baseline:
            print(f"{label:42} {value:9.3f}")
            continue
        print(f"{label:42} {value:9.3f} {baseline:14.3f} {value / baseline:7.1f}x  {target}")


if __name__ == "__main__":
    main()
