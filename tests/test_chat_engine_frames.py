"""End to end: a ``%%chat`` cell naming a Dask frame of tens of millions of rows.

The frame is built lazily in Dask (20 partitions of 1,000,000 rows, generated where they
are computed), so nothing of it is in the kernel. The cell's request to the model must
carry a description computed by Dask: its exact row count, its columns and their figures,
and no row data beyond the few example rows.

The passes take about 4 s on two idle cores, close to the default budget (5 s), so on a
loaded CI box the default would fairly cancel them; the test sets a budget through
``%config`` as a user would. How fast the passes are is measured in
``benchmarks/bench_engines.py``, not here.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from IPython.utils.capture import capture_output

from jupychat.providers.fake import get_fake

PARTS, PER_PART = 20, 1_000_000


def _part(i: int) -> pd.DataFrame:
    ids = np.arange(i * PER_PART, (i + 1) * PER_PART, dtype=np.int64)
    return pd.DataFrame(
        {
            "event_id": ids,
            "region": pd.Categorical.from_codes(
                (ids % 4).astype(np.int8), ["north", "south", "east", "west"]
            ).astype(object),
            "amount": (ids % 1000) / 10.0,
        }
    )


def test_chat_cell_names_a_dask_frame_of_twenty_million_rows(notebook_shell):
    dd = pytest.importorskip("dask.dataframe")
    meta = _part(0).iloc[:0]
    events = dd.from_map(_part, range(PARTS), meta=meta)
    fake = get_fake("engines")
    fake.reset()
    shell = notebook_shell("fake:engines", "/work/events.ipynb")
    shell.user_ns["events"] = events
    shell.run_line_magic("config", "ChatMagics.engine_seconds = 120")
    start = time.monotonic()
    with capture_output():
        result = shell.run_cell("%%chat\nWhich regions are in @events, and how many rows?")
    elapsed = time.monotonic() - start
    assert result.success, result.error_in_exec
    sent = "\n".join(b.text for m in fake.requests[-1].messages for b in m.context_blocks)
    assert "dask.DataFrame" in sent and "not collected" in sent, sent
    assert f"{PARTS * PER_PART:,} rows" in sent, sent
    assert "Computed in Dask" in sent, sent
    for region in ("north", "south", "east", "west"):
        assert region in sent, (region, sent)
    assert "max 99.9" in sent, sent  # amount's exact maximum over every row
    assert len(sent) < 12_000  # a description, not the data
    # bounded: the passes plus the turn, with a wide margin for a busy CI box
    assert elapsed < 120, elapsed
