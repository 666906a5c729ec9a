"""Writes docs/notebook-context.md with examples produced by running the code it documents.

Run it after changing the cell record or the cell context (``PYTHONPATH=src python
docs/make_notebook_context.py``): it records a few cells in a real IPython shell with the
inline matplotlib backend, builds the context texts from them, and pastes them into the
page, so the examples are exactly what the code produces.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

HERE = Path(__file__).parent
SETUP = ["%matplotlib inline", "import matplotlib.pyplot as plt\nimport pandas as pd"]
CELLS = [
    'sales = pd.DataFrame({"region": ["north", "south", "east"], "amount": [120.5, 80.0, 97.25]})\n'
    'print(f"{len(sales)} rows loaded")\n'
    "sales.describe()",
    'totals = sales.groupby("region")["amount"].sum()\ntotals["west"]',
    'big = sales[sales["amount"] > 1_000]\nbig.plot(y="amount", title="Large orders")',
]


def run_cells() -> dict[str, str]:
    os.environ.setdefault("MPLBACKEND", "Agg")
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    from jupychat.context.cells import (
        cells_context,
        cells_inventory,
        error_context,
        figure_context,
    )
    from jupychat.context.celltools import cell_tools
    from jupychat.context.settings import ContextSettings
    from jupychat.notebook.cells import CellRecord

    shell = InteractiveShell.instance()
    shell.enable_gui = lambda gui=None: None
    out: dict[str, str] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for code in SETUP:
            shell.run_cell(code, store_history=True)
        select_figure_formats(shell, {"png"})
        record = CellRecord.install(shell)
        for code in CELLS:
            shell.run_cell(code, store_history=True)
    cells = record.cells()
    ctx = cells_context(cells[:1])
    out["cell"] = next(iter(ctx.values()))
    out["error"] = next(iter(error_context(record.last_error()).values()))
    figure = figure_context(record.last_figure(), images=False)
    out["figure_text"] = next(iter(figure.values()))
    vision = figure_context(record.last_figure(), images=True)
    out["figure_vision_head"] = "\n".join(next(iter(vision.values())).splitlines()[:2])
    out["figure_vision_images"] = ", ".join(
        f"{a.label} ({a.media_type}, {len(a.data):,} bytes)" for a in vision.images
    )
    out["inventory"] = cells_inventory(record)
    aggregates = cells_context(cells, ContextSettings(values="aggregates"))
    out["aggregates"] = aggregates[f"cell:{cells[0].execution_count}"]
    small = cells_context(cells, budget=250)
    out["small"] = "\n\n".join(f"[{k}]\n{v}" for k, v in small.items())
    tools = {t.name: t for t in cell_tools(lambda: record)}
    out["tool"] = tools["list_cells"].run({"limit": 5})
    record.uninstall()
    return out


TEMPLATE = """# The notebook as context: executed cells, outputs, errors and figures

The assistant can see what the notebook ran, not only its variables. A kernel-side record
keeps, for each executed cell, its code, execution count, cell id, timing and what it
showed (results, displays, printed text, the error and its traceback, figures), bounded in
memory and never holding the objects themselves. Context texts are built from that record
with the same budgets, degradation order and privacy rules as variables
([context.md](context.md)). Every example below was produced by running the code
(`docs/make_notebook_context.py`), not written by hand.

## In a notebook

| you write | the model gets |
|---|---|
| `%%chat --cells 3` | the last three executed cells: code, printed output, results, figures' accounts |
| `@error` in the prompt | the last error: the cell's code and its traceback as the user saw it |
| `@fig` | the latest figure: a text account from the live matplotlib `Figure` (axes, titles, labels, scales, artists, data ranges, legend, "axes 1 has no plotted data"), plus the PNG for models that take images; a variable named `fig` holding a figure wins |
| `@In[7]` | cell 7 with its outputs |
| `%chat fix` | asks for the fixed cell; in JupyterLab and Notebook 7 a bar under the answer replaces the failing cell's code (an ordinary edit: Ctrl+Z in that cell brings the old code back); elsewhere the fix goes into a new cell below |
| `%chat context @fig --cells 2` | prints exactly what the next turn would send (blocks and images) |
| `%chat cells` | the recorded cells, one line each |

The standing inventory (sent once, re-sent only when it changes) lists the recent cells in
one line each, and the model can ask for more with the read-only tools `list_cells`,
`get_cell(n)` and `get_figure(n)`. In the chat panel, a code block in an answer about a
cell (`@error`, `@In[7]`, `@fig`) gets "Replace In [7]" next to "Insert below".

Settings (`%config ChatMagics.<name>`, `JUPYCHAT_<NAME>` or the config file):
`cell_outputs = False` sends code only; `cell_images = False` never sends images;
`cell_stream_chars` caps printed output per cell (head and tail kept, default 2,000);
`vision = "true" | "false" | "auto"` says whether the model takes images (the built-in
table knows OpenAI, Anthropic and common Ollama vision models).

## From Python

```python
from jupychat.notebook.cells import CellRecord, get_record
from jupychat.context.cells import (cells_context, error_context, figure_context,
                                    cells_inventory, cell_settings)
from jupychat.context.celltools import cell_tools
from jupychat.capabilities import supports_images

record = CellRecord.install(get_ipython())  # kept from %load_ext on; record.uninstall()
record.cells(3)                       # the last 3 cells, oldest first (%%chat cells left out)
record.by_count(7); record.last_error(); record.last_figure()
settings = cell_settings()            # ContextSettings + cell_* settings from the config chain
ctx = cells_context(record.cells(3), settings, images=supports_images("openai:gpt-4o"))
#   → {"cell:5": "...", "cell:6": "...", "cell:7": "..."} with ctx.images (downscaled PNG/JPEG)
error_context(record.last_error())              # {"error:8": code + traceback}
figure_context(record.last_figure(), images=True)   # {"figure:9": account + code}, .images
cells_inventory(record, k=10)                   # one line per recent cell
tools = cell_tools(lambda: get_record(), settings)   # list_cells, get_cell, get_figure
```

The cells recorded for the examples:

```python
{cells}
```

## A cell: code and outputs (`--cells N`)

Each cell is one block under the key `cell:<n>`, deterministic for an unchanged cell (its
`fingerprint` changes only when the code or what it showed changes), so a follow-up turn
re-sends nothing:

````text
{cell}
````

## An error with its cell (`@error`)

The traceback is the one the user saw, as plain text (ANSI colours stripped), kept head
and tail when long:

````text
{error}
````

## An empty figure (`@fig`)

For a model without vision, the text account read from the live matplotlib `Figure` when
it was displayed. Its first line says why nothing is visible:

````text
{figure_text}
````

For a model that accepts images (`supports_images(model)`), the same text goes along and
the PNG is attached, downscaled to `image_max_side`/`image_max_bytes`:

````text
{figure_vision_head}
…
````

Attached: {figure_vision_images}.

## The inventory and the tools

One line per recent cell, so the model knows what exists and can ask for more with
`get_cell(n)`:

````text
{inventory}
````

`list_cells`, `get_cell(execution_count, include_outputs)` and `get_figure(execution_count)`
are read-only tools; results obey the same privacy settings and are capped at
`tool_budget`. `list_cells(limit=5)` returns:

````text
{tool}
````

## Privacy and budgets

- `cell_outputs = False`: code only, no outputs, no figure accounts or images.
- `values = "aggregates"`: printed text, result values, error messages and images are
  withheld; figure accounts (counts, ranges, labels) stay. `values = "schema"` also
  withholds figure accounts.
- `cell_images = False`: never attach images; `cell_stream_chars` caps each stream,
  text output and traceback (head and tail).
- Secret-looking strings (API keys, tokens) are replaced by `‹secret›` everywhere.

The first cell with `values = "aggregates"`:

````text
{aggregates}
````

Over budget (`cells_budget`, default 3,000 tokens), cells degrade oldest first, one step
for all before the next: drop images → shorten outputs (head and tail) → one-line output
summaries → code only → leave the cell out with a pointer. All three cells in 250 tokens:

````text
{small}
````

## What the record keeps, and what it costs

- Per cell: code, execution count, cell id (`pre_run_cell` `info.cell_id`), start time and
  duration, outputs (results as a bounded safe preview and the text shown; displays:
  text/plain, Markdown, HTML reduced to text, PNG/JPEG bytes, SVG text, Vega-Lite and
  Plotly specs as text accounts; matplotlib figures as a text account of the live
  `Figure` plus the PNG), stdout and stderr (head and tail, `\\r` collapsed), the error
  with its plain-text traceback.
- Never: a reference to a result, a figure, an exception or a frame after the cell.
- Bounded: a ring buffer of at most 1,000 cells and ~12 MB, ~2 MB per cell, 20,000
  characters per stream; oldest cells are evicted first.
- `record.saved_notebook()` reads the notebook file (`JPY_SESSION_NAME`) with nbformat for
  the markdown cells and the cell order. It is the *saved* state: unsaved edits and cells
  run since are not in it, and its `outline()` says so.
- Cost (`python benchmarks/bench_cells.py`, a 2-core machine, one run): a cell with no
  output takes 0.03 ms more with the record (median of 1,800; 0.07 ms inside the record
  timed directly; target ≤ 1 ms); a cell that shows a matplotlib figure 0.9 ms more
  (median of 240 cells of ~300 ms; 1.6 ms inside the record, of which ~0.3 ms describing
  the figure; target ≤ 5 ms). After 1,000 mixed cells (a figure every 20th) the record
  holds 1.8 MB (tracemalloc); after 1,000 cells that each show a PNG, 12 MB, the byte cap
  (598 cells kept; target ≤ 20 MB).
"""


def main() -> None:
    parts = run_cells()
    parts["cells"] = "\n\n".join(CELLS)
    text = TEMPLATE
    for key, value in parts.items():
        text = text.replace("{" + key + "}", value)
    leftover = re.findall(r"\{[a-z_]+\}", text)
    assert not leftover, leftover
    (HERE / "notebook-context.md").write_text(text, encoding="utf-8")
    print(f"wrote {HERE / 'notebook-context.md'}")


if __name__ == "__main__":
    main()
