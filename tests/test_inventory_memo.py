"""The remembered inventories (issue 22: a later chat cell's cost) never go stale: after
any change to the namespace, the settings, the known secrets or the executed cells, the
text is the one a fresh computation gives."""

from __future__ import annotations

import importlib
import json
import math

import numpy as np
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupychat import config
from jupychat.context import ContextSettings
from jupychat.context.cells import cell_settings, cells_inventory
from jupychat.notebook import namespace
from jupychat.notebook.cells import CellRecord, get_record

inv = importlib.import_module("jupychat.context.inventory")  # the package binds the function
cells_module = importlib.import_module("jupychat.context.cells")


class Thing:
    pass


class Other:
    pass


def _changes(ns: dict) -> list[tuple[str, object]]:
    def setitem(name, value):
        return lambda: ns.__setitem__(name, value)

    def in_place_class():
        ns["t"].__class__ = Other

    return [
        ("int", setitem("x", 1)),
        ("another int", setitem("x", 2)),
        ("bool equal to an int", setitem("x", True)),
        ("float", setitem("x", 0.0)),
        ("negative zero", setitem("x", -0.0)),
        ("nan", setitem("x", math.nan)),
        ("short string", setitem("s", "hello")),
        ("another short string", setitem("s", "world")),
        ("long string", setitem("s", "a" * 100)),
        ("longer string", setitem("s", "a" * 101)),
        ("list", setitem("lst", [1])),
        ("list appended in place", lambda: ns["lst"].append(2)),
        ("dict", setitem("d", {})),
        ("dict grown in place", lambda: ns["d"].update(k=1)),
        ("tuple of the same length", setitem("lst", (1, 2))),
        ("frame", setitem("df", pd.DataFrame({"a": range(5)}))),
        ("column added in place", lambda: ns["df"].insert(1, "b", 2.0)),
        ("a row added in place", lambda: ns["df"].loc.__setitem__(100, [1, 2.0])),
        ("array", setitem("arr", np.zeros(6))),
        ("array reshaped in place", lambda: setattr(ns["arr"], "shape", (2, 3))),
        ("module", setitem("json", json)),
        ("module under an alias", setitem("js", json)),
        ("module replaced", setitem("js", math)),
        ("function", setitem("f", lambda: 1)),
        ("function replaced by a number", setitem("f", 3)),
        ("class", setitem("C", Thing)),
        ("instance", setitem("t", Thing())),
        ("its class changed in place", in_place_class),
        ("hidden name", setitem("_private", 1)),
        ("IPython name", setitem("In", [])),
        ("deleted", lambda: ns.__delitem__("x")),
        ("defined again, now last", setitem("x", 5)),
        ("a secret-looking string", setitem("tok", "sk-" + "a1b2" * 10)),
    ]


SETTINGS = [
    ContextSettings(),
    ContextSettings(values="schema"),
    ContextSettings(exclude_vars=("lst", "js")),
    ContextSettings(inventory_budget=60),
]


def test_a_remembered_inventory_equals_a_fresh_one_after_every_change():
    ns: dict = {}
    for label, change in _changes(ns):
        change()
        for settings in SETTINGS:
            for skip in (frozenset(), frozenset({"df"})):
                budget = settings.inventory_budget
                fresh = inv._inventory(ns, settings, budget, skip)
                assert inv.inventory(ns, settings, skip=skip) == fresh, (label, settings)
                assert inv.inventory(dict(ns), settings, skip=skip) == fresh, label  # a copy


def test_a_key_known_after_the_inventory_was_made_is_redacted():
    key = "zq9" + "x7" * 20  # no credential shape: only known by value
    ns = {"note": key[:50]}
    settings = ContextSettings()
    assert key[:50] in inv.inventory(ns, settings)
    config.set_api_key("groq", key[:50])
    assert key[:50] not in inv.inventory(ns, settings)


class Unhashable(type):
    def __hash__(cls):
        raise TypeError("no hash")

    def __eq__(cls, other):
        raise TypeError("no comparison")


def test_a_value_of_an_odd_type_is_listed_and_never_remembered_stale():
    odd = Unhashable("Odd", (), {})
    ns = {"o": odd(), "x": 1}
    settings = ContextSettings()
    for x in (1, 2):
        ns["x"] = x
        text = inv.inventory(ns, settings)
        assert text == inv._inventory(ns, settings, settings.inventory_budget, frozenset())
        assert "- o: " in text and f"- x: int = {x}" in text


@pytest.fixture
def shell():
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    CellRecord.install(sh)
    yield sh
    record = get_record(sh)
    if record is not None:
        record.uninstall()
    InteractiveShell.clear_instance()


def _fresh(shell) -> dict[str, str]:
    cells_module._LINES.clear()  # each cell's line made anew too
    settings = namespace.context_settings()
    text = inv._inventory(
        namespace.visible_namespace(shell), settings, settings.inventory_budget, frozenset()
    )
    blocks = {"inventory": text} if text else {}
    text = cells_inventory(get_record(shell), namespace.RECENT_CELLS, cell_settings(settings))
    if text:
        blocks["cells"] = text
    return blocks


def test_the_cells_inventory_follows_every_executed_cell_and_update(shell, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(tmp_path / "none.toml"))
    steps = [
        "a = 1",
        "print('hello')",
        "from IPython.display import display\nh = display('step 1', display_id=True)",
        "h.update('step 2 is longer')",  # an output of an earlier cell, replaced
        "a",
        "1/0",
        "b = [1, 2]",
        "b.append(3)",
    ] + [f"c{i} = {i}" for i in range(10)]  # more cells than the inventory lists
    seen = []
    for code in steps:
        shell.run_cell(code, store_history=True)
        now = namespace._inventory(shell)
        assert now == _fresh(shell), code
        seen.append(now.get("cells"))
        assert namespace._inventory(shell) == now
    assert len(set(seen)) == len(steps)  # every cell changed the text
    assert "step 2 is longer" in str(seen[3]) and "step 2" not in str(seen[2])
    shell.run_cell("1/0", store_history=True)
    assert "ZeroDivisionError: division by zero" in namespace._inventory(shell)["cells"]
    config.set_override("cell_outputs", False)  # error names only, not their messages
    cells = namespace._inventory(shell)["cells"]
    assert cells == _fresh(shell)["cells"]
    assert "ZeroDivisionError" in cells and "division by zero" not in cells
    config.set_override("exclude_vars", ["b"])
    assert "- b:" not in namespace._inventory(shell)["inventory"]
    get_record(shell).clear()
    assert "cells" not in namespace._inventory(shell)
