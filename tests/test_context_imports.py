"""The core layer imports neither pandas, IPython nor ipywidgets (checked in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import importlib, json, pkgutil, sys
import jupychat
names = []
for info in pkgutil.walk_packages(jupychat.__path__, "jupychat."):
    if info.name.startswith("jupychat.notebook"):
        continue
    importlib.import_module(info.name)
    names.append(info.name)
HEAVY = ("pandas", "IPython", "ipywidgets", "polars", "numpy")
heavy = sorted(m for m in HEAVY if m in sys.modules)
print(json.dumps({"modules": names, "heavy": heavy}))
"""


def _run(script: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_every_core_module_imports_no_heavy_package():
    result = _run(SCRIPT)
    context_modules = [m for m in result["modules"] if m.startswith("jupychat.context")]
    # the walk really covered the context package, backends included
    assert {
        "jupychat.context.describe",
        "jupychat.context.frames",
        "jupychat.context.arrays",
        "jupychat.context.polars_frames",
        "jupychat.context.datatools",
    } <= set(context_modules)
    assert not {"pandas", "IPython", "ipywidgets"} & set(result["heavy"]), result["heavy"]


def test_describing_builtins_and_context_for_a_plain_namespace_stays_light():
    script = r"""
import json, sys
from jupychat.context import describe, turn_context, data_tools, project_context
ns = {"x": 1, "names": ["a", "b"], "cfg": {"k": 1}, "json": json}
turn_context(ns, ["x", "names"])
describe(3.5); describe("text"); describe({1, 2}); describe(len)
for tool in data_tools(lambda: ns):
    pass
HEAVY = ("pandas", "IPython", "ipywidgets", "polars", "numpy")
heavy = sorted(m for m in HEAVY if m in sys.modules)
print(json.dumps({"heavy": heavy}))
"""
    assert _run(script)["heavy"] == []
