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

# The quickstart's prompts are ones the embedded SmolLM2-135M answers correctly, checked by
# running them (tests/test_notebooks.py checks the words below on every run). With greedy
# decoding its answers are the same on every run; on 2026-12-02 they were:
#   What is the capital of France?        → "The capital of France is Paris."
#   What language do people speak there?  → "The language spoken in Paris is French."
#   Show Python code to sort a list called numbers. (75 tokens) →
#       ```python / def sort_list(numbers): / return sorted(numbers) / numbers = [5, 2, 8, …]
#       / sorted_numbers = sort_list(numbers) / print(sorted_numbers) / ```
#   Name the three columns of @sales. (40 tokens) →
#       "The three columns of the `sales` DataFrame are: / - `region`: `north` / - `units`:
#       `100` / - `price`: `49." (issue 16's shorter frame description; at 30 tokens it
#       stopped after `units`)
# The token limits stop it where it would start to ramble or repeat itself.

SWITCH_MODEL = """\
# Uncomment one line to use a real model (then run %chat model again to check):
# %chat model ollama:llama3.2                    # Ollama on this machine (ollama pull llama3.2)
# %chat key openai                               # asks for the key, then:
# %chat model openai:gpt-4o-mini
# %chat key anthropic                            # asks for the key, then:
# %chat model anthropic:claude-haiku-4-5
# %chat model openai-compatible:MODEL@http://127.0.0.1:1234/v1   # LM Studio, llama.cpp, vLLM...
%chat model"""

QUICKSTART = [
    new_markdown_cell(
        "# jupychat quickstart\n\n"
        "A chat that lives in this notebook: ask in `%%chat` cells, follow-ups remember the\n"
        "conversation, and the assistant can see your variables."
    ),
    new_code_cell("%load_ext jupychat"),
    new_markdown_cell(
        "## Which model answers\n\n"
        "With nothing set up, jupychat uses the best model it finds without downloading\n"
        "anything: a model you named (`JUPYCHAT_MODEL`, `%chat model`), else a provider whose\n"
        "API key is set (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`), else a running Ollama, LM Studio\n"
        "or llama.cpp server, else an instruct GGUF model already in your Hugging Face cache, else\n"
        "the tiny embedded SmolLM2-135M (offline, fine for trying things, often wrong).\n"
        "`%chat model` says which one and why; `%chat models` lists what was found."
    ),
    new_code_cell(SWITCH_MODEL),
    new_markdown_cell(
        "Ask a question. The answer streams in, with a footer: model, tokens, cost, time."
    ),
    new_code_cell("%%chat --max-tokens 60\nWhat is the capital of France?"),
    new_markdown_cell("A follow-up: the session remembers the conversation."),
    new_code_cell("%%chat --max-tokens 60\nWhat language do people speak there?"),
    new_markdown_cell("Code comes back as a Python block (`--format code` puts it in a new cell)."),
    new_code_cell("%%chat --max-tokens 75\nShow Python code to sort a list called numbers."),
    new_markdown_cell(
        "## Your data as context\n\n"
        "Name a variable with `@name` (or `--context name`) and the assistant gets a compact\n"
        "description of it: schema, missing values, statistics, a few random rows. Other\n"
        "variables are listed by name only. `%chat context sales` prints exactly what is sent."
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
    new_code_cell("%%chat --max-tokens 40\nName the three columns of @sales."),
    new_markdown_cell(
        "## Managing the session\n\n"
        "`%chat history`, `%chat stats`, `%chat clear`, `%chat new`, `%chat sessions`,\n"
        "`%chat export chat.md`, and `%chat panel` opens the same conversation in a side panel.\n"
        "The session is saved as you go and comes back after a kernel restart.\n"
        "`%chat help` lists every command."
    ),
    new_code_cell("%chat stats"),
    new_code_cell("%chat history"),
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
    new_markdown_cell(
        "Export the conversation as Markdown, JSON or a notebook (here into a temporary\n"
        "folder, so running this notebook leaves no files behind):"
    ),
    new_code_cell(
        "import tempfile\n\n"
        'out = tempfile.mkdtemp(prefix="jupychat-export-")\n'
        "%chat export {out}/chat-export.md\n"
        "%chat export {out}/chat-export.ipynb"
    ),
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
    new_markdown_cell(
        "Named sessions keep separate threads in one notebook. `--session NAME` asks that\n"
        "session for this cell only (later plain `%%chat` cells go on with the current one);\n"
        "`%chat use NAME` makes it current, `%chat use default` goes back."
    ),
    new_code_cell("%%chat --session scratch --max-tokens 40\nName a colour."),
    new_code_cell("%chat use scratch\n%chat stats\n%chat use default"),
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
