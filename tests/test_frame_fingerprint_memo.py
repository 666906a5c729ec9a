"""The frame fingerprint remembers dtype texts and column-label hashes by object; it must
still change whenever the frame visibly changes in place (issue 22: a later cell's cost)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jupychat.context import frame_fingerprint as ff


def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({f"c{i}": rng.normal(size=5_000) for i in range(4)})


def test_in_place_edits_change_the_fingerprint_every_time():
    df = frame()
    seen = {ff.fingerprint(df)}
    assert ff.fingerprint(df) in seen  # unchanged: the same key (remembered parts agree)
    edits = [
        lambda: df.__setitem__("c0", df["c0"].astype("float32")),  # a dtype, in place
        lambda: df.insert(0, "first", 2.0),  # a column inserted in front, in place
        lambda: setattr(df, "columns", ["a", "b", "c", "d", "e"]),  # labels, reassigned
        lambda: df.iloc.__setitem__((len(df) - 1, 2), 1e9),  # the last row is always sampled
        lambda: df.__setitem__("f", 1),  # a new column
        lambda: df.__delitem__("a"),  # a column fewer
    ]
    for edit in edits:
        edit()
        key = ff.fingerprint(df)
        assert key not in seen, edit
        seen.add(key)


def test_remembered_parts_match_a_fresh_computation_and_stay_bounded():
    df = frame()
    names = tuple(str(t) for t in df.dtypes)
    assert ff.fingerprint(df)[4] == names
    cleared = dict(ff._label_hashes)
    ff._label_hashes.clear()
    ff._dtype_names.clear()
    fresh = ff.fingerprint(df)
    assert ff.fingerprint(df) == fresh
    ff._label_hashes.update(cleared)
    for _ in range(ff._MEMO_LIMIT + 10):  # many frames: the memo never outgrows its limit
        ff.fingerprint(pd.DataFrame({"x": [1.0, 2.0]}))
    assert len(ff._label_hashes) <= ff._MEMO_LIMIT


def test_the_sample_positions_are_shared_read_only():
    positions = ff._spread(1_000_000, 64)
    assert positions is ff._spread(1_000_000, 64)
    assert not positions.flags.writeable
    assert positions[0] == 0 and positions[-1] == 999_999 and len(positions) == 64
