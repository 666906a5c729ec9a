"""Which place a notebook cell's turn takes in the conversation (issue 21, issue 18).

Design note: in a notebook, a cell's question should see what is above it, not what
was asked last. So a ``%%chat`` cell's turn is *placed* (see :mod:`jupychat._turnplace`):

* **Which earlier turn is this cell's?** With a cell id from the front end (JupyterLab,
  Notebook 7 send ``cellId``), the turn with that id. Without one (nbclient, papermill,
  some VS Code versions) — or with an id no turn has yet (a notebook saved without
  ids gets new ones each time it is opened) — a turn from an *earlier kernel run* with
  the same source (the cell's text), preferring the one at the same *position* (the
  how-manieth %%chat cell it was in its run); a turn whose cell id is still on the
  saved page, or was run in this kernel, belongs to that cell and is never taken. A
  re-run replaces that turn instead of adding one. Two cells asking the same question
  in one run are twins, each with its own turn; so, without cell ids, a cell run twice
  in one kernel, or whose text was edited, adds a turn.
* **Where does it go?** When the saved ``.ipynb`` next to the kernel knows the cell's id,
  by the page's order: a re-run turn stays where it was when that agrees with the cells
  around it, else it (and a new cell's turn) goes right before the turn of the first cell
  below it on the page. Otherwise a re-run keeps its place and a new cell's turn goes at
  the end: the order cells were first run.
* **What does it see?** Only the turns above that place: the cells above, and the panel
  questions asked before it (panel turns are appended when asked, so they stay in time
  order between the cells they followed). Run All on a reopened notebook therefore sends
  the requests a first run sent.

Each cell turn's user message records ``cell_run`` (this kernel run), ``cell_pos`` and
``cell_source`` (a digest of the text) in its meta, which is all the matching needs.
The page order is read from the saved file only when a cell id is given, and read again
only when the file changed.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .._memo import PrefixMemo

if TYPE_CHECKING:
    from ..session import ChatSession
    from ..types import Message

__all__ = ["CellOrder", "source_digest"]

Groups = list[list["Message"]]


def source_digest(text: str) -> str:
    """A short digest of a cell's question (surrounding whitespace ignored)."""
    return hashlib.sha256(text.strip().encode("utf-8", "surrogatepass")).hexdigest()[:16]


class CellOrder:
    """This kernel run's count of %%chat cells, and the page order of the saved notebook."""

    def __init__(self, notebook_file: Callable[[], Path | None] | None = None) -> None:
        self.run = uuid.uuid4().hex[:12]
        self.count = 0
        self._lock = threading.Lock()
        self._notebook_file = notebook_file
        self._page: tuple[Any, dict[str, int]] | None = None

    def turn_options(self, ask: Any, session: ChatSession, meta: dict[str, Any]) -> dict[str, Any]:
        """The ``replace``/``place`` options of a cell's turn; fills in ``meta``.

        ``ask`` is the cell's :class:`~jupychat.notebook.engine.Ask`.
        """
        with self._lock:
            self.count += 1
            position = self.count
        digest = source_digest(ask.text)
        meta.update(cell_run=self.run, cell_pos=position, cell_source=digest)
        cell_id = ask.cell_id or None
        history = session.history
        page = self.page() if cell_id else {}
        replace: Callable[[Message], bool] | None = None
        if cell_id:
            meta["cell_id"] = cell_id
            if cell_id in _cell_turns(history).ids:
                replace = _same_id(cell_id)
        if replace is None:
            found = self._match(history, position, digest, page if cell_id else None)
            if found is not None:
                replace = _same_turn(found)
        options: dict[str, Any] = {"place": _placer(cell_id, page)}
        if replace is not None:
            options["replace"] = replace
        return options

    def _match(
        self,
        history: Sequence[Message],
        position: int,
        digest: str,
        page: Mapping[str, int] | None,
    ) -> tuple[Any, Any] | None:
        """``(cell_run, cell_pos)`` of the earlier turn this cell re-runs, if any.

        ``page`` is given when the asking cell has an id no turn has: a turn with an
        id is then a candidate only when its cell is gone — not on the saved page and
        not run in this kernel (a notebook without saved ids gets new ids each time it
        is opened)."""

        def eligible(m: Message) -> bool:
            other = m.meta.get("cell_id")
            if page is None or not other:
                return True
            return m.meta.get("cell_run") != self.run and other not in page

        same = [m for m in _cell_turns(history).sources.get(digest, ()) if eligible(m)]
        # never a turn of this run: without ids, a second cell asking the same question
        # in one run (nbclient runs each cell once) is a twin, not a re-run
        earlier = [m for m in same if m.meta.get("cell_run") != self.run]
        exact = [m for m in earlier if m.meta.get("cell_pos") == position]
        if not earlier:
            return None
        chosen = (exact or earlier)[0]
        return chosen.meta.get("cell_run"), chosen.meta.get("cell_pos")

    def page(self) -> dict[str, int]:
        """``{cell id: index on the page}`` from the saved notebook (``{}`` if unknown)."""
        from ..context.notebook_file import notebook_path, saved_notebook

        path = self._notebook_file() if self._notebook_file else notebook_path()
        if path is None:
            return {}
        try:
            stat = path.stat()
        except OSError:
            return {}
        stamp = (str(path), stat.st_mtime_ns, stat.st_size)
        if self._page is not None and self._page[0] == stamp:
            return self._page[1]
        saved = saved_notebook(path)
        order = {} if saved is None else {c.cell_id: c.index for c in saved.cells if c.cell_id}
        self._page = (stamp, order)
        return order


class _CellTurns(NamedTuple):
    """The cell turns of a history: ``{cell_source: the user messages of the cell turns
    that asked it}`` in history order, and the cell ids they were asked from."""

    sources: dict[str, tuple[Message, ...]]
    ids: frozenset[str]


def _cell_turns(history: Sequence[Message]) -> _CellTurns:
    """The cell turns of ``history``, resumed from the last history asked about when
    this one starts with it (see :class:`~jupychat._memo.PrefixMemo`): each cell looks
    for its earlier turns, by id and by source. Read only."""
    messages = list(history)
    known, start = _CELL_TURNS.resume(messages)
    found = dict(known.sources) if known else {}
    ids = set(known.ids) if known else set()
    for message in messages[start:]:
        if not _is_cell(message):
            continue
        source = message.meta.get("cell_source")
        if isinstance(source, str):  # a digest is text: nothing else can equal one
            found[source] = (*found.get(source, ()), message)
        cell_id = message.meta.get("cell_id")
        if isinstance(cell_id, str):  # (the cell ids asked about are text)
            ids.add(cell_id)
    turns = _CellTurns(found, frozenset(ids))
    _CELL_TURNS.keep(messages, turns)
    return turns


_CELL_TURNS: PrefixMemo[_CellTurns] = PrefixMemo()


def _is_cell(message: Message) -> bool:
    return message.role == "user" and (message.meta or {}).get("source") == "cell"


def _same_id(cell_id: str) -> Callable[[Message], bool]:
    return lambda m: _is_cell(m) and m.meta.get("cell_id") == cell_id


def _same_turn(found: tuple[Any, Any]) -> Callable[[Message], bool]:
    run, position = found
    return lambda m: (
        _is_cell(m) and m.meta.get("cell_run") == run and m.meta.get("cell_pos") == position
    )


def _placer(cell_id: str | None, page: Mapping[str, int]) -> Callable[[Groups, int | None], int]:
    """The ``place`` function for a cell (see the module note)."""
    mine = page.get(cell_id) if cell_id else None

    def where(group: list[Message]) -> int | None:
        first = group[0]
        if not _is_cell(first):
            return None
        other = first.meta.get("cell_id")
        return page.get(other) if other else None

    def place(turns: Groups, old: int | None) -> int:
        if mine is None:
            return len(turns) if old is None else old
        if old is not None:
            above = next((w for w in map(where, reversed(turns[:old])) if w is not None), None)
            below = next((w for w in map(where, turns[old:]) if w is not None), None)
            if (above is None or above < mine) and (below is None or below > mine):
                return old
        # the first turn whose cell is below this one on the page (the end when none is)
        return bisect.bisect_right(_highest(turns, page, where), mine)

    return place


def _highest(
    turns: Groups, page: Mapping[str, int], where: Callable[[Any], int | None]
) -> list[int]:
    """For each turn, the place furthest down ``page`` of the cells of the turns up to it
    (-1 until one is on the page): a sorted list, so the first turn below a place is
    found by bisection. Resumed from the last turns asked about with this page (see
    :class:`~jupychat._memo.PrefixMemo`): a cell at the end of a long notebook otherwise
    looked at every turn above it."""
    firsts = [group[0] for group in turns]
    known, start = _HIGHEST.resume(firsts, page)
    highest = list(known or ())
    top = highest[-1] if highest else -1
    for group in turns[start:]:
        found = where(group)
        if found is not None and found > top:
            top = found
        highest.append(top)
    _HIGHEST.keep(firsts, tuple(highest), page)
    return highest


#: (a turn's place is its first message's: equal messages are placed alike; the page, by
#: identity: ``CellOrder.page()`` gives the same mapping until the saved file changes)
_HIGHEST: PrefixMemo[tuple[int, ...]] = PrefixMemo()
