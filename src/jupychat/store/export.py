"""Export session records to JSON, Markdown or a Jupyter notebook; read JSON back.

Design note: everything here works on plain record dicts (``SessionStore.load``
output) and knows nothing of SQLite. Every export is scrubbed of credentials first
(:mod:`.scrub`) and written atomically (a temporary file in the same folder, then
``os.replace``), so a failed export never leaves half a file behind.

The notebook export (nbformat v4): the title and session facts in a first Markdown cell;
each prompt a Markdown cell; each reply Markdown cells with its fenced code blocks split
out as code cells: Python (or unlabelled) blocks as they are, blocks in a language with
an IPython cell magic (``bash``, ``sh``, ``html``, ``javascript``, ``latex``...) with that
magic on the first line; blocks in other languages (json, text, output...) stay in the
Markdown.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupychat.errors import StoreError

from .records import SCHEMA, VERSION
from .scrub import scrub

__all__ = [
    "FORMATS",
    "format_for",
    "read_import",
    "render",
    "render_ipynb",
    "render_json",
    "render_markdown",
    "split_fences",
    "write_atomic",
]

FORMATS = ("json", "markdown", "ipynb")
_SUFFIXES = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".ipynb": "ipynb"}
_PYTHON = {"", "python", "py", "python3", "ipython", "ipython3", "pycon"}
_MAGICS = {
    "bash": "%%bash",
    "sh": "%%sh",
    "shell": "%%bash",
    "zsh": "%%bash",
    "html": "%%html",
    "javascript": "%%javascript",
    "js": "%%javascript",
    "latex": "%%latex",
    "tex": "%%latex",
    "markdown": "%%markdown",
    "md": "%%markdown",
    "svg": "%%svg",
    "ruby": "%%ruby",
    "perl": "%%perl",
}
_ROLE_NAMES = {"user": "You", "assistant": "Assistant", "system": "System", "tool": "Tool"}


def format_for(path: str | Path, fmt: str | None) -> str:
    """The export format: the one asked for, else from the file suffix, else JSON."""
    if fmt is None:
        return _SUFFIXES.get(Path(path).suffix.lower(), "json")
    name = {"md": "markdown", "notebook": "ipynb"}.get(fmt.lower(), fmt.lower())
    if name not in FORMATS:
        raise StoreError(f"unknown export format {fmt!r}; use json, markdown or ipynb")
    return name


def _public(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as exported: scrubbed, without store-internal message ids."""
    data = dict(record)
    data["messages"] = [
        {k: v for k, v in m.items() if k != "id"} for m in record.get("messages", [])
    ]
    cleaned: dict[str, Any] = scrub(data)
    cleaned["schema"], cleaned["version"] = SCHEMA, VERSION
    return cleaned


def render_json(record: Mapping[str, Any]) -> str:
    """The record as indented JSON (what :func:`read_import` reads back)."""
    return json.dumps(_public(record), ensure_ascii=False, indent=2) + "\n"


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    ticks = "`" * (longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _part_markdown(part: Mapping[str, Any]) -> str:
    kind = part.get("type")
    if kind == "text":
        return str(part.get("text", ""))
    if kind == "context":
        return (
            f"<details><summary>context: {part.get('key', '')}</summary>\n\n"
            f"{_fence(str(part.get('text', '')), 'text')}\n\n</details>"
        )
    if kind == "image":
        return f"*[image: {part.get('media_type', 'image')}]*"
    if kind == "tool_call":
        args = json.dumps(part.get("arguments", {}), ensure_ascii=False, indent=2)
        return f"**tool call** `{part.get('name', '')}`\n\n{_fence(args, 'json')}"
    if kind == "tool_result":
        label = "tool error" if part.get("is_error") else "tool result"
        return f"**{label}** `{part.get('name', '')}`\n\n{_fence(str(part.get('content', '')))}"
    return ""


def _heading(message: Mapping[str, Any]) -> str:
    from .._compaction import summary_label

    role = str(message.get("role", ""))
    name = summary_label(message) or _ROLE_NAMES.get(role, role.title())
    extras = [str(message["model"])] if role == "assistant" and message.get("model") else []
    if message.get("interrupted"):
        extras.append("interrupted")
    return name + (f" ({', '.join(extras)})" if extras else "")


def _facts(record: Mapping[str, Any]) -> list[str]:
    facts = [f"- session: `{record.get('id')}`"]
    for key in ("name", "notebook", "model", "created_at", "updated_at"):
        if record.get(key):
            facts.append(f"- {key.replace('_', ' ')}: {record[key]}")
    return facts


def render_markdown(record: Mapping[str, Any]) -> str:
    """The conversation as a Markdown document."""
    data = _public(record)
    out = [f"# {data.get('title') or 'Chat session'}", "", *_facts(data), ""]
    if data.get("system_prompt"):
        out += ["## System prompt", "", str(data["system_prompt"]), ""]
    for message in data["messages"]:
        out += [f"## {_heading(message)}", ""]
        for part in message.get("content", []):
            text = _part_markdown(part)
            if text:
                out += [text, ""]
    return "\n".join(out).rstrip() + "\n"


_FENCE_OPEN = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)[^`]*$")


def split_fences(text: str) -> list[tuple[str, str, str]]:
    """Split Markdown into ``("markdown", text, "")`` and ``("code", code, lang)`` pieces.

    Fences follow CommonMark: three or more backticks or tildes, closed by a line of the
    same character at least as long; an unclosed fence runs to the end.
    """
    pieces: list[tuple[str, str, str]] = []
    prose: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if not match:
            prose.append(lines[i])
            i += 1
            continue
        indent, fence, lang = len(match.group(1)), match.group(2), match.group(3).lower()
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        body: list[str] = []
        i += 1
        while i < len(lines) and not close.match(lines[i]):
            line = lines[i]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))) :])
            i += 1
        i += 1  # the closing fence (or the end)
        if "\n".join(prose).strip():
            pieces.append(("markdown", "\n".join(prose).strip("\n"), ""))
        prose = []
        pieces.append(("code", "\n".join(body), lang))
    if "\n".join(prose).strip():
        pieces.append(("markdown", "\n".join(prose).strip("\n"), ""))
    return pieces


def render_ipynb(record: Mapping[str, Any]) -> str:
    """The conversation as a Jupyter notebook (nbformat v4, validated)."""
    import nbformat
    from nbformat import v4

    data = _public(record)
    cells = [
        v4.new_markdown_cell(
            "\n".join([f"# {data.get('title') or 'Chat session'}", "", *_facts(data)])
        )
    ]
    if data.get("system_prompt"):
        cells.append(v4.new_markdown_cell(f"**System prompt**\n\n{data['system_prompt']}"))
    for message in data["messages"]:
        header = f"**{_heading(message)}**"
        if message.get("role") != "assistant":
            body = "\n\n".join(
                t for t in (_part_markdown(p) for p in message.get("content", [])) if t
            )
            cells.append(v4.new_markdown_cell(f"{header}\n\n{body}".rstrip()))
            continue
        pending = [header]
        for part in message.get("content", []):
            if part.get("type") != "text":
                text = _part_markdown(part)
                if text:
                    pending.append(text)
                continue
            for kind, text, lang in split_fences(str(part.get("text", ""))):
                if kind == "markdown":
                    pending.append(text)
                elif lang in _PYTHON or lang in _MAGICS:
                    if pending:
                        cells.append(v4.new_markdown_cell("\n\n".join(pending)))
                        pending = []
                    source = text if lang in _PYTHON else f"{_MAGICS[lang]}\n{text}"
                    cells.append(v4.new_code_cell(source))
                else:
                    pending.append(_fence(text, lang))
        if pending:
            cells.append(v4.new_markdown_cell("\n\n".join(pending)))
    nb = v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "jupychat": {
                "session": data.get("id"),
                "title": data.get("title"),
                "model": data.get("model"),
            },
        },
    )
    nbformat.validate(nb)
    return str(nbformat.writes(nb))


def render(record: Mapping[str, Any], fmt: str) -> str:
    """Render ``record`` in one of :data:`FORMATS`."""
    if fmt == "json":
        return render_json(record)
    if fmt == "markdown":
        return render_markdown(record)
    if fmt == "ipynb":
        return render_ipynb(record)
    raise StoreError(f"unknown export format {fmt!r}; use json, markdown or ipynb")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StoreError(
            f"cannot write {path} ({exc.strerror or exc}); pick another path"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StoreError(
            f"cannot write {path} ({exc.strerror or exc}); pick another path"
        ) from None


def read_import(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON export; the envelope is checked here, the fields by the store.

    Raises
    ------
    StoreError
        Unreadable file, not JSON, or not a jupychat session export.
    """
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL byte
        reason = getattr(exc, "strerror", None) or exc
        raise StoreError(f"cannot read {path!s:.200} ({reason}); check the path") from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise StoreError(f"{path} is not a UTF-8 text file; import a JSON session export") from None
    except RecursionError:
        raise StoreError(f"{path} is nested too deeply to be a session export") from None
    except json.JSONDecodeError as exc:
        raise StoreError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}); "
            "import a file written by export(..., format='json')"
        ) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise StoreError(
            f'{path} is not a jupychat session export (no "schema": "{SCHEMA}"); '
            "import a file written by export(..., format='json')"
        )
    return data
