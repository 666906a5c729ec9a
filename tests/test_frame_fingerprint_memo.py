"""The frame fingerprint remembers dtype texts and column-label hashes by object; it must
still change whenever the frame visibly changes in place (issue 22: a later cell's cost)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
    remembered = ff.fingerprint(df)
    ff._label_hashes.clear()
    ff._dtype_names.clear()
    fresh = ff.fingerprint(df)
    assert ff.fingerprint(df) == fresh == remembered
    for _ in range(ff._MEMO_LIMIT + 10):  # many frames: the memo never outgrows its limit
        ff.fingerprint(pd.DataFrame({"x": [1.0, 2.0]}))
    assert len(ff._label_hashes) <= ff._MEMO_LIMIT


def test_the_sample_positions_are_shared_read_only():
    positions = ff._spread(1_000_000, 64)
    assert positions is ff._spread(1_000_000, 64)
    assert not positions.flags.writeable
    assert positions[0] == 0 and positions[-1] == 999_999 and len(positions) == 64


# --- the fast path: sampled rows read from the frame's own arrays -----------------------


def kinds_frame(n: int = 3_000) -> pd.DataFrame:
    """Every kind of block: float, int, object (mixed), str, category, datetime (naive and
    tz-aware), bool, NaN, nullable Int64 and boolean, period, interval, timedelta."""
    rng = np.random.default_rng(1)
    values = rng.normal(size=n)
    values[::7] = np.nan
    return pd.DataFrame(
        {
            "x": values,
            "k": rng.integers(0, 9, n),
            "obj": pd.Series(["a", 1, None, 2.5] * (n // 4), dtype=object),
            "s": pd.array([f"w{i % 13}" for i in range(n)], dtype="str"),
            "cat": pd.Categorical(rng.choice(["lo", "mid", "hi"], n)),
            "t": pd.date_range("2024-01-01", periods=n, freq="min"),
            "tz": pd.date_range("2024-01-01", periods=n, freq="h", tz="Europe/Oslo"),
            "ok": rng.random(n) < 0.5,
            "n": pd.array(rng.integers(0, 5, n), dtype="Int64"),
            "b": pd.array(([True, None, False] * n)[:n], dtype="boolean"),
            "p": pd.period_range("2020-01", periods=n, freq="D"),
            "iv": pd.IntervalIndex.from_breaks(range(n + 1)),
            "td": pd.to_timedelta(range(n), unit="s"),
        }
    )


def frames() -> dict[str, object]:
    rng = np.random.default_rng(2)
    numeric = pd.DataFrame(rng.normal(size=(2_000, 6)), columns=[f"c{i}" for i in range(6)])
    wide_labels = pd.MultiIndex.from_product([["a", "b"], ["x", "y", "z"]])
    multi = pd.DataFrame(rng.normal(size=(500, 6)), columns=wide_labels)
    labelled = numeric.set_axis(pd.Index([f"r{i}" for i in range(2_000)]), axis=0)
    dated = kinds_frame().set_index("t")
    rows = kinds_frame(400).set_index(["s", "k"])
    return {
        "numeric": numeric,
        "kinds": kinds_frame(),
        "multi columns": multi,
        "string index": labelled,
        "datetime index": dated,
        "multi index": rows,
        "series": numeric["c1"],
        "str series": kinds_frame()["s"],
    }


def test_common_frames_take_the_fast_path():
    import hashlib

    for label, obj in frames().items():
        series = isinstance(obj, pd.Series)
        positions = ff._spread(len(obj), 64)
        ncols = 1 if series else obj.shape[1]
        read = ff._sampled_fast(obj, positions, series, ncols, hashlib.blake2b())
        assert read is not None, label
        expected = (str(obj.dtype),) if series else tuple(str(t) for t in obj.dtypes)
        assert read == expected == ff.fingerprint(obj)[4], label


def _sampled(obj: pd.DataFrame, at: int = 5) -> int:
    """A row position the fingerprint reads (not the first or last: any sampled row)."""
    rows = max(8, min(64, 8192 // max(1, obj.shape[1])))
    return int(ff._spread(len(obj), rows)[at])


def _edits(df: pd.DataFrame) -> list[tuple[str, object]]:
    row = _sampled(df)
    col = df.columns.get_loc
    return [
        ("float value", lambda: df.iloc.__setitem__((row, col("x")), 123.25)),
        ("int value", lambda: df.iloc.__setitem__((row, col("k")), 99)),
        ("object value", lambda: df.iloc.__setitem__((row, col("obj")), "changed")),
        ("str value", lambda: df.iloc.__setitem__((row, col("s")), "zz")),
        (
            "category value",
            lambda: df.iloc.__setitem__(
                (row, col("cat")), "hi" if df.iat[row, col("cat")] != "hi" else "lo"
            ),
        ),
        (
            "datetime value",
            lambda: df.iloc.__setitem__((row, col("t")), pd.Timestamp("1999-01-01")),
        ),
        (
            "tz value",
            lambda: df.iloc.__setitem__(
                (row, col("tz")), pd.Timestamp("1999-01-01", tz="Europe/Oslo")
            ),
        ),
        ("bool value", lambda: df.iloc.__setitem__((row, col("ok")), not df.iat[row, col("ok")])),
        ("NaN to number", lambda: df.iloc.__setitem__((_sampled(df, 0), col("x")), 7.0)),
        ("nullable int", lambda: df.iloc.__setitem__((row, col("n")), 77)),
        ("nullable bool", lambda: df.iloc.__setitem__((_sampled(df, 1), col("b")), pd.NA)),
        ("period", lambda: df.iloc.__setitem__((row, col("p")), pd.Period("1999-01-01", "D"))),
        ("interval", lambda: df.iloc.__setitem__((row, col("iv")), pd.Interval(-5, -4))),
        ("timedelta", lambda: df.iloc.__setitem__((row, col("td")), pd.Timedelta(-1, "s"))),
        ("dtype", lambda: df.__setitem__("k", df["k"].astype("float64"))),
        ("str to object", lambda: df.__setitem__("s", df["s"].astype(object))),
        ("columns swapped", lambda: df.__setitem__(["x", "k"], df[["k", "x"]].to_numpy())),
        ("row labels", lambda: setattr(df, "index", pd.RangeIndex(5, 5 + len(df)))),
    ]


@pytest.mark.parametrize("fast", [True, False])
def test_every_in_place_edit_of_a_sampled_row_changes_the_key(monkeypatch, fast):
    monkeypatch.setattr(ff, "FAST", fast)
    df = kinds_frame()
    seen = {ff.fingerprint(df)}
    assert ff.fingerprint(df) in seen
    for label, edit in _edits(df):
        edit()
        key = ff.fingerprint(df)
        assert key not in seen, label
        assert ff.fingerprint(df) == key, label  # and stable again once unchanged
        seen.add(key)


def test_an_in_place_edit_of_a_series_changes_the_key():
    s = kinds_frame()["x"].copy()
    before = ff.fingerprint(s)
    s.iloc[_sampled(s.to_frame())] = -1.5
    assert ff.fingerprint(s) != before


@pytest.mark.parametrize("label", list(frames()))
def test_descriptions_are_the_same_text_through_either_path(monkeypatch, label):
    from jupychat.context import clear_cache, describe, turn_context

    obj = frames()[label]

    def texts() -> tuple[str, str, str]:
        return (
            describe(obj, "df"),
            describe(obj, "df", budget=300),
            turn_context({"df": obj}, ["df"], prompt="what about x and c1?")["var:df"],
        )

    seen = []
    for fast in (False, True):
        monkeypatch.setattr(ff, "FAST", fast)
        clear_cache()
        seen += [texts(), texts()]  # fresh, then from the cache
    assert seen[0] == seen[1] == seen[2] == seen[3]
