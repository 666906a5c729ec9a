"""Writes the example notebooks from the cell lists below (run it after editing them).

Keeping the notebooks as code keeps them reviewable; the test suite executes every
``.ipynb`` here, so the examples never rot.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}

QUICKSTART = [
    new_markdown_cell(
        "# jupychat quickstart\n\n"
        "A chat that lives in this notebook: ask in `%%chat` cells, follow-ups remember the\n"
        "conversation, and the assistant can see your variables. With no API key it runs the\n"
        "small embedded model (SmolLM2-135M) on your machine: fine for trying things, not for hard\n"
        "questions. `%chat key openai` and `%chat model openai:gpt-4o-mini` switch to a bigger one."
    ),
    new_code_cell("%load_ext jupychat"),
    new_markdown_cell(
        "Ask a question. The answer streams in as Markdown, with a footer: model, tokens, cost."
    ),
    new_code_cell("%%chat --max-tokens 60\nWhat is 2 + 2?"),
    new_markdown_cell("A follow-up: the session remembers the conversation."),
    new_code_cell("%%chat --max-tokens 60\nAnd what is that number times 10?"),
    new_markdown_cell(
        "## Your data as context\n\n"
        "Name a variable with `@name` (or `--context name`) and the assistant gets a compact\n"
        "description of it: schema, missing values, statistics, a few random rows. Other\n"
        "variables are listed by name only. `%chat context df` prints exactly what is sent."
    ),
    new_code_cell(
        "import pandas as pd\n\n"
        "sales = pd.DataFrame({\n"
        '    "region": ["north", "south", "east", "west"] * 25,\n'
        '    "units": range(100),\n'
        '    "price": [9.99, 19.99, 4.5, 12.0] * 25,\n'
        "})\n"
        "sales.head(3)"
    ),
    new_code_cell("%chat context sales"),
    new_code_cell("%%chat --max-tokens 80\nWhich columns does @sales have?"),
    new_markdown_cell(
        "## Managing the session\n\n"
        "`%chat history`, `%chat stats`, `%chat clear`, `%chat new`, `%chat sessions`,\n"
        "`%chat export chat.md`, and `%chat panel` opens the same conversation in a side panel.\n"
        "The session is saved as you go and comes back after a kernel restart."
    ),
    new_code_cell("%chat stats"),
    new_code_cell("%chat history"),
    new_markdown_cell(
        "## Other models\n\n"
        "```\n"
        "%chat key openai                      # asks for the key; kept in memory only\n"
        "%chat model openai:gpt-4o-mini\n"
        "%chat model anthropic:claude-3-5-haiku-latest\n"
        "%chat model ollama:llama3.2           # a local Ollama server\n"
        "%chat model openai-compatible:qwen@http://127.0.0.1:8000/v1   # vLLM, llama.cpp, LM Studio...\n"
        "```\n"
        "`%chat help` lists every command."
    ),
]

DATAFRAMES = [
    new_markdown_cell(
        "# Asking about a DataFrame\n\n"
        "jupychat describes a frame compactly: exact null counts and ranges, estimated quantiles\n"
        "and distinct counts from a seeded sample (marked ≈), a few random example rows, and\n"
        "columns whose names look personal have their values withheld."
    ),
    new_code_cell("%load_ext jupychat"),
    new_code_cell(
        "import numpy as np\nimport pandas as pd\n\n"
        "rng = np.random.default_rng(0)\n"
        "n = 50_000\n"
        "orders = pd.DataFrame({\n"
        '    "order_id": np.arange(1, n + 1),\n'
        '    "price": np.where(rng.random(n) < 0.05, np.nan, rng.lognormal(3, 1, n).round(2)),\n'
        '    "region": pd.Categorical(rng.choice(["north", "south", "east", "west"], n)),\n'
        '    "email": [f"user{i}@example.com" for i in range(n)],\n'
        '    "shipped": rng.random(n) < 0.8,\n'
        "})\n"
        "orders.shape"
    ),
    new_markdown_cell("This is exactly what the model will be told about `orders`:"),
    new_code_cell("%chat context orders"),
    new_code_cell("%%chat --max-tokens 120\nWhat share of @orders has a missing price?"),
    new_markdown_cell(
        "`{name}` inserts a small value into the prompt (write `{{`/`}}` for literal braces):"
    ),
    new_code_cell("threshold = 100\n"),
    new_code_cell(
        "%%chat --max-tokens 120\nHow would I count orders with price above {threshold} in @orders?"
    ),
    new_markdown_cell("`--format code` puts the code of the answer into a new cell below."),
    new_code_cell(
        "%%chat --format code --max-tokens 120\nWrite pandas code that counts @orders by region."
    ),
]

SESSIONS = [
    new_markdown_cell(
        "# Sessions: resume, export, fork\n\n"
        "Every notebook gets its own session, saved to a SQLite store as each turn completes.\n"
        "Restart the kernel and `%load_ext jupychat` picks the conversation up again."
    ),
    new_code_cell("%load_ext jupychat"),
    new_code_cell("%%chat --max-tokens 40\nSay hello in French."),
    new_code_cell("%chat sessions"),
    new_markdown_cell("Export the conversation as Markdown, JSON or a notebook:"),
    new_code_cell("%chat export chat-export.md\n%chat export chat-export.ipynb"),
    new_markdown_cell(
        "From Python, the same session object: fork it to explore another direction without\n"
        "touching the original, or clone it."
    ),
    new_code_cell(
        "from jupychat.notebook import get_chat\n\n"
        "session = get_chat().session()\n"
        "branch = session.fork(at=2)\n"
        "print(len(session.history), len(branch.history), branch.get_metadata('forked_from') == session.id)"
    ),
    new_code_cell(
        "from jupychat.store import SessionStore\n\n"
        "store = SessionStore()\n"
        "[(s['title'], s['message_count']) for s in store.sessions(limit=5)]"
    ),
    new_markdown_cell("Named sessions keep separate threads in one notebook:"),
    new_code_cell("%%chat --session scratch --max-tokens 40\nName a colour."),
    new_code_cell("%chat stats"),
]

ERROR_TAGS = {"tags": ["raises-exception"]}  # nbclient runs on past this cell's error

NOTEBOOK = [
    new_markdown_cell(
        "# The assistant sees the notebook\n\n"
        "From `%load_ext jupychat` on, the kernel keeps a bounded record of what each cell ran\n"
        "and showed: code, printed output, results, errors, figures. A question can attach it:\n"
        "`@fig` (the latest figure), `@error` (the last error with its cell), `@In[7]` (one\n"
        "cell), `--cells N` (the last N cells). `%chat context` prints exactly what is sent."
    ),
    new_code_cell("%load_ext jupychat"),
    new_code_cell(
        "import pandas as pd\n\n"
        'sales = pd.DataFrame({"month": [], "revenue": []})\n'
        'ax = sales.plot(x="month", y="revenue", title="Revenue by month")'
    ),
    new_markdown_cell(
        "The plot is empty. A model that takes images gets the picture; every model gets a\n"
        "text account of the figure built from the live matplotlib object:"
    ),
    new_code_cell("%chat context @fig"),
    new_code_cell("%%chat --max-tokens 120\nWhy is this plot empty? @fig"),
    new_markdown_cell("An error, and a question about it:"),
    new_code_cell('total = sales["Revenue"].sum()', metadata=ERROR_TAGS),
    new_code_cell("%%chat --max-tokens 120\nFix this error. @error"),
    new_markdown_cell(
        "The last few cells with their outputs (`%chat cells` lists what is recorded):"
    ),
    new_code_cell("%chat cells"),
    new_code_cell("%%chat --cells 3 --max-tokens 120\nExplain what the last three cells do."),
]


def main() -> None:
    for name, cells in (
        ("quickstart", QUICKSTART),
        ("dataframes", DATAFRAMES),
        ("sessions", SESSIONS),
        ("notebook_context", NOTEBOOK),
    ):
        nb = new_notebook(cells=cells)
        for index, cell in enumerate(nb.cells):
            cell.id = f"{name.replace('_', '-')}-{index:02d}"  # stable ids: regenerating is a no-op
        nb.metadata["kernelspec"] = KERNEL
        nbformat.validate(nb)
        nbformat.write(nb, HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
