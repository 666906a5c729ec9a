"""Benchmark the PostgreSQL session store: concurrent writers, search, a user's listing.

    python benchmarks/bench_postgres.py                  # 1,000,000 messages, 50 writers
    python benchmarks/bench_postgres.py --messages 100000 --sessions 2000   # quick run
    python benchmarks/bench_postgres.py --url postgresql://me@db/bench      # existing DB

Starts a private PostgreSQL server (initdb + pg_ctl in a temp dir, as the tests do)
unless ``--url`` names an empty database. Then:

* **Concurrent writers**: ``--writers`` processes (default 50, two per session: two
  kernels of one user) each append ``--turns`` turns (a prompt and a reply) through
  ``SessionStore.append_messages``, all at once. Every turn must be in the database
  afterwards (``lost`` must be 0), and each writer's turns in its order. Reports append
  p50/p99 under that load, next to a single writer's p50 measured in the same run.
* **Bulk load** of ``--sessions`` sessions owned by ``--users`` users and ``--messages``
  messages (Zipf-like words) with ``COPY`` (the ``tsvector`` column is computed by the
  schema; the GIN index is rebuilt once after the load).
* **Search** (full text, ranked, with snippets) for a common and a rare word, as one
  user (own sessions + those shared with them), then again with every session shared
  with everyone, so the search covers all ``--messages``; **listing** a user's latest 50.
  Baseline for each: the same query as bare SQL on the base tables (no views, no
  ownership rule, no snippets, no Python dicts), in the same run on the same database.

Targets: search < 100 ms, listing < 20 ms, 0 turns lost.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from _timing import COMMON_RANK, RARE, pct, synthetic_message, timed, vocabulary, zipf_weights

from jupychat.store.postgres import PostgresStore
from jupychat.store.records import MessageRow, message_row
from jupychat.types import Message, Usage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def turn(writer: int, i: int) -> list[dict[str, Any]]:
    return [
        Message.of("user", f"writer {writer} turn {i}: how do I merge two frames?").to_dict(),
        Message.of(
            "assistant",
            "Use pd.merge(left, right, on='key').",
            model="fake:echo",
            usage=Usage(120, 30),
            finish_reason="stop",
        ).to_dict(),
    ]


# -- concurrent writers -------------------------------------------------------------------


def _writer(url: str, user: str, sid: str, writer: int, turns: int, start: Any, out: Any) -> None:
    store = PostgresStore(url, user=user, pool_size=1, timeout=30)
    store.exists(sid)  # connect before the start line
    start.wait()
    times = []
    for i in range(turns):
        t = time.perf_counter()
        store.append_messages(sid, turn(writer, i))
        times.append((time.perf_counter() - t) * 1000)
    store.close()
    out.put(times)


def concurrent_writers(url: str, writers: int, turns: int) -> dict[str, float]:
    ctx = mp.get_context("fork")
    sessions = {}
    for n in range(0, writers, 2):
        user = f"writer{n // 2}"
        with PostgresStore(url, user=user) as store:
            sessions[n] = sessions[n + 1] = (user, store.create(title=f"concurrent {n // 2}"))
    start, out = ctx.Barrier(writers), ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(url, *sessions[w], w, turns, start, out))
        for w in range(writers)
    ]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    times = [t for _ in procs for t in out.get()]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    lost = 0
    disorder = 0
    for n in range(0, writers, 2):
        user, sid = sessions[n]
        with PostgresStore(url, user=user) as store:
            texts = [m["content"][0]["text"] for m in store.load(sid)["messages"]]
        for w in (n, n + 1):
            mine = [t for t in texts if t.startswith(f"writer {w} turn ")]
            expected = [turn(w, i)[0]["content"][0]["text"] for i in range(turns)]
            lost += len(set(expected) - set(mine))
            disorder += mine != expected
    with PostgresStore(url, user="solo") as solo:  # baseline: one writer alone
        sid = solo.create(title="solo")
        alone = timed(lambda: solo.append_messages(sid, turn(0, 0)), max(50, turns))
    return {
        "wall_s": wall,
        "p50": pct(times, 50),
        "p99": pct(times, 99),
        "alone_p50": pct(alone, 50),
        "lost": lost,
        "disorder": disorder,
        "turns": writers * turns,
    }


# -- bulk load ---------------------------------------------------------------------------------


def bulk_load(url: str, sessions: int, messages: int, users: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    words = vocabulary(rng)
    cum = zipf_weights(words)  # Zipf-like word frequencies
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("DROP INDEX jupychat.messages_tsv")
        base = time.time() - 400 * 86400
        with conn.cursor().copy(
            "COPY jupychat.sessions (id, title, notebook, created_at, updated_at, model, "
            "metadata, owner, revision, next_seq) FROM STDIN"
        ) as copy:
            for n in range(sessions):
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + n * 3000))
                copy.write_row(
                    (
                        f"{n:032x}",
                        f"session {n}",
                        f"/work/nb{n % 50}.ipynb",
                        stamp + ".000000+00:00",
                        stamp + ".500000+00:00",
                        "fake:echo",
                        f'{{"project": "p{n % 20}"}}',
                        f"u{n % users}",
                        1,
                        0,
                    )
                )
        pks = [
            r[0]
            for r in conn.execute(
                "SELECT pk FROM jupychat.sessions WHERE title LIKE 'session %' ORDER BY pk"
            )
        ]
        per = [
            messages // sessions + (1 if i < messages % sessions else 0) for i in range(sessions)
        ]
        rare_at = set(rng.sample(range(messages), 5))
        made = 0
        columns = ", ".join(MessageRow._fields)
        with conn.cursor().copy(
            f"COPY jupychat.messages (session_pk, seq, {columns}) FROM STDIN"
        ) as copy:
            for pk, count in zip(pks, per, strict=True):
                for seq in range(count):
                    message = synthetic_message(rng, words, cum, seq, made in rare_at)
                    copy.write_row((pk, seq, *message_row(message)))
                    made += 1
        conn.execute(
            "UPDATE jupychat.sessions s SET (message_count, input_tokens, output_tokens, "
            "next_seq) = (SELECT count(*), coalesce(sum(input_tokens), 0), "
            "coalesce(sum(output_tokens), 0), coalesce(max(seq), -1) + 1 "
            "FROM jupychat.messages WHERE session_pk = s.pk)"
        )
        conn.execute("CREATE INDEX messages_tsv ON jupychat.messages USING gin (tsv)")
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return {"build_s": time.perf_counter() - t0, "common": words[COMMON_RANK], "bytes": size}


# -- reads --------------------------------------------------------------------------------------


def reads(url: str, facts: dict[str, Any], label: str, rows: list[tuple[str, float, float, str]]):
    common = facts["common"]
    with PostgresStore(url, user="u7") as store, psycopg.connect(url) as raw:
        store.sessions(limit=1)
        listing = timed(lambda: store.sessions(limit=50), 30)
        base = timed(
            lambda: raw.execute(
                "SELECT id, title, name, notebook, model, created_at, updated_at, "
                "message_count, input_tokens, output_tokens, metadata, owner "
                "FROM jupychat.sessions WHERE owner = 'u7' ORDER BY updated_at DESC LIMIT 50"
            ).fetchall(),
            30,
        )
        seen = len(store.sessions(limit=500))
        rows.append(
            (
                f"list latest 50 ({label})",
                statistics.median(listing),
                statistics.median(base),
                "< 20 ms",
            )
        )
        for what, word in (("common word", common), (f"rare word '{RARE}'", RARE)):
            found = timed(lambda w=word: store.sessions(search=w), 7)
            bare = timed(
                lambda w=word: raw.execute(
                    "SELECT m.id, m.session_pk FROM jupychat.messages m "
                    "WHERE m.tsv @@ plainto_tsquery('simple', %s) AND m.superseded IS NULL "
                    "ORDER BY m.id DESC LIMIT 5000",
                    (w,),
                ).fetchall(),
                7,
            )
            hits = len(store.sessions(search=word, limit=500))
            rows.append(
                (
                    f"search {what} ({label}; {hits} sessions hit)",
                    statistics.median(found),
                    statistics.median(bare),
                    "< 100 ms",
                )
            )
        print(f"  ({label}: user u7 sees {seen}{'+' if seen == 500 else ''} sessions)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="an empty database (default: a private one)")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.url:
        run(args.url, args)
        return
    from pg_server import fresh_database, postgres_server

    with postgres_server(("-c shared_buffers=256MB", "-c work_mem=32MB")) as server:
        run(fresh_database(server, "bench"), args)


def run(url: str, args: argparse.Namespace) -> None:
    with PostgresStore(url, user="setup") as store:
        store.sessions()  # the schema, through our migrations
    w = concurrent_writers(url, args.writers, args.turns)
    print(
        f"{args.writers} writers x {args.turns} turns ({w['turns']:,} turns, 2 per session) "
        f"in {w['wall_s']:.1f} s: lost {w['lost']}, out of order {w['disorder']}"
    )
    rows: list[tuple[str, float, float, str]] = [
        ("append turn p50 (under load)", w["p50"], w["alone_p50"], ""),
        ("append turn p99 (under load)", w["p99"], w["alone_p50"], ""),
    ]
    facts = bulk_load(url, args.sessions, args.messages, args.users, args.seed)
    print(
        f"loaded {args.sessions:,} sessions / {args.messages:,} messages "
        f"({args.users} users) with COPY in {facts['build_s']:.1f} s; "
        f"database {facts['bytes'] / 1e6:.0f} MB"
    )
    reads(url, facts, "own + shared", rows)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE jupychat.sessions SET readers = '{*}'")
        conn.execute("VACUUM ANALYZE jupychat.sessions")
    reads(url, facts, "all shared with everyone", rows)
    print(f"\n{'measure':58} {'ours ms':>9} {'baseline':>9} {'ratio':>6}  target")
    for label, ours, base, target in rows:
        ratio = ours / base if base else float("nan")
        print(f"{label:58} {ours:9.2f} {base:9.2f} {ratio:6.1f}  {target}")
    print("baseline: a single writer alone (appends); bare SQL on the base tables (reads)")
    if w["lost"] or w["disorder"]:
        raise SystemExit("FAILED: turns were lost or reordered")


if __name__ == "__main__":
    main()
