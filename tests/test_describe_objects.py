"""describe() on everything that is not a DataFrame: bounded, never raising, never hanging."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import functools
import json
import threading
import time
import tracemalloc

import numpy as np
import pytest

from jupychat.context import ContextSettings, describe, estimate_tokens
from jupychat.context.request import Request
from jupychat.context.saferepr import bounded_repr, guarded_repr


def test_scalars_and_strings():
    assert describe(42, "n") == "### `n`: int = 42"
    assert describe(2.5, "x") == "### `x`: float = 2.5"
    assert describe(None, "nothing") == "### `nothing`: None"
    assert describe(decimal.Decimal("1.10"), "d") == "### `d`: decimal.Decimal = Decimal('1.10')"
    assert describe(np.float64(3.5), "f") == "### `f`: numpy.float64 = 3.5"
    assert describe(True, "flag") == "### `flag`: bool = True"
    text = describe("hello\nworld " * 1000, "s")
    assert "str, 12,000 chars, 1,001 lines" in text and "preview: 'hello⏎world" in text
    assert len(text) < 200
    assert describe(b"\x00\x01" * 100, "b").startswith("### `b`: bytes, 200 bytes")
    assert "value" not in describe(dt.date(2024, 1, 2), "day") or "2024" in describe(
        dt.date(2024, 1, 2), "day"
    )


def test_containers_show_length_types_and_a_bounded_preview():
    text = describe({"a": 1, "b": [1, 2], "c": "x"}, "cfg")
    assert "dict, 3 keys; keys: str; values: int 33%, list 33%, str 33%" in text
    assert "preview: {'a': 1, 'b': [1, 2], 'c': 'x'}" in text
    nums = describe(list(range(10_000)), "xs")
    assert "list, 10,000 items; types: int (first 1,000)" in nums
    assert "min 0, max 999, mean 499.5 (first 1,000)" in nums
    assert "..." in nums and len(nums) < 600
    assert "set, 3 items" in describe({1, 2, 3}, "s")
    assert "deque, 2 items" in describe(collections.deque([1, 2]), "q")
    point = collections.namedtuple("Point", "x y")(1, 2)
    assert "namedtuple: x, y" in describe(point, "p")


def test_huge_and_recursive_containers_are_cheap_and_bounded():
    big = {i: str(i) for i in range(2_000_000)}
    t0 = time.perf_counter()
    text = describe(big, "big")
    assert time.perf_counter() - t0 < 0.5
    assert "2,000,000 keys" in text and len(text) < 1000
    loop: list = [1]
    loop.append(loop)
    nested: dict = {}
    nested["self"] = nested
    deep: list = []
    cur = deep
    for _ in range(10_000):
        cur.append([])
        cur = cur[0]
    for obj in (loop, nested, deep):
        out = describe(obj, "r")
        assert out.startswith("### `r`") and len(out) < 1200


def _documented(a: int, b: str = "x", *args, **kwargs) -> dict:
    """Combine things.

    More text.
    """
    return {}


class Base:
    pass


class Widget(Base):
    """A widget for tests."""

    size = 3

    def grow(self) -> None:
        pass


def test_functions_classes_modules():
    text = describe(_documented, "f")
    assert "function _documented(a: int, b: str = 'x', *args, **kwargs) -> dict" in text
    assert "Combine things." in text and "More text" not in text
    assert "builtin_function_or_method len(obj, /)" in describe(len, "len")
    assert "lambda" in describe(lambda x: x, "g")
    assert "partial" in describe(functools.partial(_documented, 1), "p")
    cls = describe(Widget, "W")
    assert "class tests.test_describe_objects.Widget(Base)" in cls or "Widget(Base)" in cls
    assert "A widget for tests." in cls and "size, grow" in cls
    assert describe(json, "json").startswith("### `json`: module json")
    assert np.__version__ in describe(np, "np")
    assert "method" in describe(Widget().grow, "m")


class RaisingRepr:
    def __repr__(self) -> str:
        raise ValueError("boom")


class SlowRepr:
    def __repr__(self) -> str:
        time.sleep(3)
        return "slow"


class Proxy:
    def __getattr__(self, name):
        raise RuntimeError("no attributes here")

    def __repr__(self) -> str:
        return "<proxy>"


class HugeRepr:
    def __repr__(self) -> str:
        return "x" * 10_000_000


@dataclasses.dataclass
class Record:
    name: str
    values: list


def test_unknown_objects_never_raise_or_hang():
    text = describe(RaisingRepr(), "bad")
    assert "repr raised ValueError: boom" in text
    t0 = time.perf_counter()
    slow = describe(SlowRepr(), "slow")
    assert time.perf_counter() - t0 < 2.0
    assert "did not finish" in slow
    t0 = time.perf_counter()
    assert "skipped" in describe(SlowRepr(), "slow")  # not called again
    assert time.perf_counter() - t0 < 0.5
    assert "<proxy>" in describe(Proxy(), "p")
    huge = describe(HugeRepr(), "h")
    assert len(huge) < 2000
    obj = Record("a", list(range(100)))
    rec = describe(obj, "rec")
    assert "attributes: name, values" in rec


def test_bounded_repr_never_calls_unknown_reprs():
    calls = []

    class Spy:
        def __repr__(self) -> str:
            calls.append(1)
            return "spy"

    text = bounded_repr([Spy(), {"k": Spy()}, Record("x", [Spy()])])
    assert calls == []
    assert "Spy>" in text and "Record(name='x'" in text


def test_guarded_repr_cuts_long_output():
    assert len(guarded_repr("y" * 10_000, maxchars=50)) == 50


def test_numpy_arrays():
    arr = np.arange(12, dtype=float).reshape(3, 4)
    arr[0, 0] = np.nan
    text = describe(arr, "a")
    assert "shape 3×4 (2-d), dtype float64, 12 elements" in text
    assert "NaN 8.3%" in text and "min 1, max 11" in text and "preview:" in text
    assert "true 50%" in describe(np.array([True, False]), "b")
    assert "range: 2020-01-01 … 2020-01-03" in describe(
        np.array(["2020-01-01", "NaT", "2020-01-03"], dtype="datetime64[D]"), "d"
    )
    assert "first items" in describe(np.array([{"a": 1}, None], dtype=object), "o")
    assert "dtype [('x', '<i4')" in describe(np.zeros(3, dtype=[("x", "i4")]), "s")
    assert "0 elements" in describe(np.zeros((0, 3)), "z")
    assert "scalar" in describe(np.array(5), "s0")


def test_large_array_is_sampled_and_never_copied():
    big = np.random.default_rng(0).normal(size=(4_000, 4_000))  # 16M elements, 128 MB
    view = big[:, ::2]  # non-contiguous: a copy would be 64 MB
    describe(np.zeros(3), "warm")
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        text = describe(view, "v")
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "min≈" in text and "(≈ from a random sample of elements)" in text
    assert peak < 20_000_000 and elapsed < 2


def test_every_description_respects_its_budget():
    objs = [
        list(range(100_000)),
        {str(i): list(range(50)) for i in range(1000)},
        "z" * 10**6,
        np.arange(10**6),
        RaisingRepr(),
        Widget,
        _documented,
    ]
    for budget in (30, 100, 500):
        for obj in objs:
            text = describe(obj, "v", budget=budget)
            assert estimate_tokens(text) <= budget


def test_values_levels_apply_to_objects():
    schema = ContextSettings(values="schema")
    assert describe("secret plan", "s", settings=schema) == "### `s`: str, 11 chars"
    assert describe(5, "n", settings=schema) == "### `n`: int"
    assert "preview" not in describe([1, 2], "l", values="schema")
    agg = describe({"a": 1}, "d", values="aggregates")
    assert "keys: 'a'" in agg and "preview" not in agg


def test_register_a_describer_for_a_new_type():
    class Matrix:
        pass

    @describe.register(Matrix)
    def _(obj: Matrix, req: Request) -> str:
        return f"### `{req.name}`: a matrix, budget {req.budget}"

    assert describe(Matrix(), "m", budget=77) == "### `m`: a matrix, budget 77"


def test_describe_is_thread_safe_enough_for_a_panel_worker():
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(describe(list(range(50)), "x")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1


def test_bad_settings_raise_one_clear_error():
    from jupychat.errors import ConfigError

    with pytest.raises(ConfigError, match="values must be one of full, aggregates, schema"):
        describe(1, values="everything")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="sample_size must be a positive integer"):
        ContextSettings(sample_size=0)
