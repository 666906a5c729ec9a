"""How a ``ChatSession`` keeps its stored copy in step with memory and with other processes.

Design note: the store is the source of truth; several processes (two kernels on one
notebook, the sessions page) may write the same session. A :class:`StoreLink` remembers
what this process last saw of the stored session: the store id of each message in
memory (keyed by the message object, so history needs no database ids), the session's
``revision``, and the field values as last synced (``base``). From that it derives:

* **what to write** (:meth:`StoreLink.flush`): messages in memory that are not stored
  yet (appended), stored messages no longer in memory (superseded, never deleted), the
  scalar fields that differ from ``base`` and the memory/metadata keys set or removed
  since. Turns another process appended are never in that diff, so they are never
  touched; a rename made elsewhere is never overwritten by a field this process did
  not change.
* **what others wrote** (:meth:`StoreLink.sync`, before each turn): one indexed lookup
  of the revision; when it moved, the active message order plus only the messages not
  held yet, and a three-way merge of title, memory and metadata (a local change wins).
  Changes not saved yet stay in memory, after the stored history.
* **what could not be saved** stays in that diff, so the next successful write stores
  it, in order, exactly once. The failure is reported once (one line), and again once
  when it is saved.
* **a lost store** (the file deleted or replaced while open, or the session deleted by
  another program): the whole session is written again from memory with
  ``SessionStore.reconcile`` (nothing stored is dropped), and the user is told.
* **writes aside** (:meth:`StoreLink.flush_aside`, :meth:`StoreLink.aside`, for a
  notebook cell): writes within a cell's turn run on a worker thread
  (:class:`~jupychat._storewriter.StoreWriter`), one at a time and in order; the turn's
  own write (and the cell's recording) runs once the cell has shown the answer, on the
  cell's thread as one of those tasks (nothing would run beside it; the worker stays a
  while after its last task, so later cells do not start a thread);
  :meth:`StoreLink.settle` waits for them before the cell returns,
  so the turn is as durable as with :meth:`flush`. Their warnings are held and given on
  the caller's thread by :meth:`settle`; an unexpected exception is raised there. The
  store's upkeep these writes made due (indexing for search, the periodic WAL
  checkpoint) runs on the worker once :meth:`settle` has let the caller go and no new
  work came for a moment (``StoreWriter``), never between two writes of one cell.
* **one transaction a cell** (:meth:`StoreLink.flush_aside` with ``hold``,
  :meth:`StoreLink.join_aside`, :meth:`StoreLink.release`): the turn's write is held
  back (not queued) until the cell's recording joins it, so both are one transaction
  (the recording in a savepoint: its failure undoes only itself); the cell releases
  them right after its final display, and any other work given aside or
  :meth:`StoreLink.settle` releases them first, so the order stays. Not beside the
  display: the display waits twice for ipykernel's IOPub thread (it flushes stdout and
  stderr), and a write holding the GIL then made it ~1 ms slower, for no gain in total.
"""

from __future__ import annotations

import copy
import json
import math
import operator
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._storewriter import StoreWriter
from .errors import StoreError
from .types import Message

if TYPE_CHECKING:
    from .session import ChatSession

__all__ = ["StoreLink"]

#: Fields sent when they changed here (each replaces the stored value).
SCALARS = ("title", "name", "notebook", "model", "system_prompt", "tools", "max_steps", "settings")
#: Dict fields merged key by key, both ways.
KEYED = ("memory", "metadata")


def _jsonable(value: Any) -> Any:
    """``value`` with everything JSON cannot hold replaced by its ``repr``."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return repr(value)


def _differs(a: Any, b: Any) -> bool:
    try:
        return bool(a != b)
    except Exception:  # values with odd equality (arrays): treat as changed
        return True


class StoreLink:
    """The tie between one ``ChatSession`` and its stored copy (see the module note)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.revision: int | None = None
        self.epoch = int(getattr(store, "epoch", 0))
        self._rows: dict[int, tuple[Message, int]] = {}  # id(message) -> (message, store id)
        self._ids: set[int] = set()  # the store ids in _rows
        # history as last written in full: every message of it stored, nothing else in
        # _rows (None: not known), so the usual write finds its new messages at once
        self._stored: list[Message] | None = None
        self._base: dict[str, Any] = {}
        self._failing = False
        self._memory_only: set[tuple[str, str | None]] = set()  # values JSON cannot hold
        self._lock = threading.RLock()
        self._writer = StoreWriter(store)  # writes aside (see aside())
        self._hold: ChatSession | None = None  # a turn's write held for the recording
        # the recording that joined it: (statement, alone, failed), until release()
        self._joined: (
            tuple[Callable[[Any], Any] | None, Callable[[], Any], Callable[..., Any]] | None
        )
        self._joined = None

    # -- binding -------------------------------------------------------------------
    def bind(self, session: ChatSession, revision: int, order: list[int], record: Any) -> None:
        """Tie ``session`` (whose history was just built from ``order``) to the store."""
        with self._lock:
            self._rows = {id(m): (m, rid) for m, rid in zip(session._history, order, strict=True)}
            self._ids = set(order)
            self._stored = list(session._history)
            self._base = {k: copy.deepcopy(record.get(k)) for k in (*SCALARS, *KEYED)}
            self.revision = revision
            self.epoch = int(getattr(self.store, "epoch", 0))

    def attach(self, session: ChatSession) -> None:
        """Store ``session``: create it, or add it to the stored one with the same id."""
        with self._lock:
            try:
                existed = self.store.exists(session.id)
                done = self.store.reconcile(self._record(session))
            except StoreError as exc:
                self._fail(session, exc)
                return
            self._remember(session, done.ids)
            self._stored = None
            if not existed:
                self.revision = done.revision
                self._saved(session)
                return
        self.sync(session, pull_all=True)  # take in what the stored copy already had
        self.flush(session)  # and send this copy's fields where they differ

    # -- writing -------------------------------------------------------------------
    def flush(self, session: ChatSession, beside: Callable[[Any], Any] | None = None) -> Any:
        """Write everything this process changed since the last successful write.

        ``beside`` (a recording's statement) goes in the same transaction (see
        ``SessionStore.commit``). Returns the store's ``Commit`` when something was
        written (``beside`` with it), else ``None`` (``beside`` was not run)."""
        with self._lock:
            if self._lost() is not None:
                self._rewrite(session)
                return None
            history = list(session._history)  # (as diffed: what is stored once written)
            new, before, dropped = self._diff(history)
            fields = session.record_fields()  # once: what is written becomes the base
            updates, merge, unset = self._changes(session, fields)
            if not (new or dropped or updates or merge or unset):
                return None
            updates["updated_at"] = session.updated_at
            # the messages themselves: the store builds their rows from them directly
            # (a dict would be validated by rebuilding the Message it came from)
            messages: list[Any] = list(new)
            extra: dict[str, Any] = {"before": before} if any(b is not None for b in before) else {}
            if beside is not None:
                extra["beside"] = beside
            for attempt in (1, 2):
                try:
                    done = self.store.commit(
                        session.id,
                        messages,
                        supersede=[self._rows[key][1] for key in dropped],
                        updates=updates,
                        merge=merge,
                        unset=unset,
                        epoch=self.epoch,
                        **extra,
                    )
                    break
                except StoreError as exc:
                    messages = [m.to_dict() for m in new]
                    if attempt == 1 and self._make_storable(session, messages):
                        continue  # a message held values JSON cannot store: now text
                    if self._lost(session) is not None:
                        self._rewrite(session)
                    else:
                        self._fail(session, exc)
                    return None
            for key in dropped:
                self._ids.discard(self._rows.pop(key)[1])
            self._remember(session, done.ids, new)
            self._stored = history
            self._saved(session, fields)
            if done.previous == self.revision:
                self.revision = done.revision  # nobody else wrote in between
            if self._failing:
                self._failing = False
                self._warn(
                    f"session {session.id[:8]} saved again: what was kept in memory "
                    f"({len(new)} new messages) is now in the store"
                )
            if self._lost() is not None:  # the file was replaced during this write
                self._rewrite(session)
            return done

    def flush_aside(self, session: ChatSession, hold: bool = False) -> None:
        """:meth:`flush` on the worker thread (see :meth:`aside`); with ``hold`` (a
        cell's turn) it waits for :meth:`join_aside` or :meth:`release` (see the module
        note). Called on the caller's thread, as the others."""
        self.release()
        if hold:
            self._hold = session
        else:
            self._queue(self.flush, session)

    def join_aside(
        self,
        statement: Callable[[Any], Any] | None,
        alone: Callable[[], Any],
        failed: Callable[[Exception], Any],
    ) -> None:
        """A cell's recording: ``statement`` in the held turn write's transaction
        (``failed(error)`` when only it was undone); ``alone()`` when there is none, or
        it had nothing to write (or could not write), or there is no ``statement`` (a
        store whose recordings take their own transaction): the recording's own write,
        after the turn's. Both wait for :meth:`release` (the cell's final display is
        shown first)."""
        if self._joined is not None:
            self.release()
        self._joined = (statement, alone, failed)

    def _flush_with(
        self,
        session: ChatSession,
        statement: Callable[[Any], Any],
        alone: Callable[[], Any],
        failed: Callable[[Exception], Any],
    ) -> None:
        done = self.flush(session, statement)
        if done is None:
            alone()
        elif done.beside_error is not None:
            failed(done.beside_error)

    def row_ahead(self, message: Message) -> None:
        """Build the store row of ``message`` (about to be written) now; never raises
        (its write builds it again, and says what is wrong)."""
        try:
            from .store.records import row_ahead

            row_ahead(message)
        except Exception:
            pass

    def release(self, here: bool = False) -> None:
        """Queue the held turn write and the recording that joined it, if any; ``here``
        (the cell has shown its final display, and waits for them next): run them on
        this thread now (``StoreWriter.run_here``)."""
        session, self._hold = self._hold, None
        joined, self._joined = self._joined, None
        statement, alone, failed = joined or (None, None, None)
        give = self._writer.run_here if here else self._writer.queue
        if session is not None and statement is not None:
            give(self._flush_with, session, statement, alone, failed)
            return
        if session is not None:
            give(self.flush, session)
        if alone is not None:
            give(alone)

    def aside(self, work: Callable[..., Any], *args: Any) -> None:
        """:meth:`_queue` ``work(*args)``, after a held turn write (see :meth:`release`)."""
        self.release()
        self._queue(work, *args)

    def _queue(self, work: Callable[..., Any], *args: Any) -> None:
        """Run ``work(*args)`` on the writer thread, after the work given before it
        (see :class:`~jupychat._storewriter.StoreWriter`)."""
        self._writer.queue(work, *args)

    def settle(self) -> None:
        """Wait for the work given to :meth:`aside`: give its warnings, raise its error."""
        self.release(here=True)
        held, error = self._writer.wait()
        for text in held:
            self._warn(text)
        if error is not None:
            raise error

    def _changes(
        self, session: ChatSession, now: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, list[str]]]:
        now = session.record_fields() if now is None else now
        base = self._base
        updates = {k: now[k] for k in SCALARS if k not in base or _differs(now[k], base[k])}
        merge: dict[str, dict[str, Any]] = {}
        unset: dict[str, list[str]] = {}
        for field in [k for k in updates if not self._fits(session, k, None, updates[k])]:
            del updates[field]
        for field in KEYED:
            old = base.get(field) or {}
            sets = {
                k: v
                for k, v in now[field].items()
                if (k not in old or _differs(old[k], v)) and self._fits(session, field, k, v)
            }
            gone = [k for k in old if k not in now[field]]
            if sets:
                merge[field] = sets
            if gone:
                unset[field] = gone
        return updates, merge, unset

    def _fits(self, session: ChatSession, field: str, key: str | None, value: Any) -> bool:
        """True when JSON can hold ``value``; else it stays in memory only (said once)."""
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            if (field, key) not in self._memory_only:
                self._memory_only.add((field, key))
                name = field if key is None else f"{field} key {key!r}"
                self._warn(
                    f"session {session.id[:8]}: {name} holds a value JSON cannot store "
                    f"({exc}); it is kept in memory only"
                )
            return False
        self._memory_only.discard((field, key))
        return True

    def _record(self, session: ChatSession) -> dict[str, Any]:
        """The whole session as a record the store can hold (see :meth:`_fits`)."""
        record = session.to_dict()
        self._make_storable(session, record["messages"])
        for field in KEYED:
            record[field] = {
                k: v for k, v in record[field].items() if self._fits(session, field, k, v)
            }
        if not self._fits(session, "settings", None, record["settings"]):
            record["settings"] = {}
        return record

    def _make_storable(self, session: ChatSession, messages: list[dict[str, Any]]) -> bool:
        """Turn values JSON cannot hold (in a message's ``meta``) into text; True if any."""
        changed = False
        for i, data in enumerate(messages):
            try:
                json.dumps(data, allow_nan=False)
            except (TypeError, ValueError):
                messages[i] = _jsonable(data)
                changed = True
        if changed:
            self._warn(
                f"session {session.id[:8]}: a message holds values JSON cannot store; "
                "they were saved as text (memory keeps them as they are)"
            )
        return changed

    def _diff(self, history: list[Message]) -> tuple[list[Message], list[int | None], list[int]]:
        """What :meth:`flush` writes: the messages not stored yet, for each of them the
        store id of the stored message that follows it in memory (``None`` when none
        does: it goes at the end), and the keys of stored messages no longer in memory.

        Usually ``history`` is what was last written plus new messages at its end: that
        is checked by identity at C speed (a long session's write does not walk its
        history in Python); anything else takes :meth:`_diff_all`."""
        stored, rows = self._stored, self._rows
        k = -1 if stored is None or len(stored) != len(rows) else len(stored)
        if 0 <= k <= len(history) and all(map(operator.is_, history[:k], stored or ())):
            new = history[k:]
            if not any(id(m) in rows for m in new):
                return new, [None] * len(new), []
        return self._diff_all(history)

    def _diff_all(
        self, history: list[Message]
    ) -> tuple[list[Message], list[int | None], list[int]]:
        """:meth:`_diff` in one pass over ``history``, whatever changed in it."""
        rows = self._rows
        new: list[Message] = []
        anchors: list[int | None] = []
        following: int | None = None
        kept: set[int] = set()
        for message in reversed(history):
            key = id(message)
            entry = rows.get(key)
            if entry is not None and entry[0] is message:
                following = entry[1]
                kept.add(key)
            else:
                new.append(message)
                anchors.append(following)
        new.reverse()
        anchors.reverse()
        if len(kept) == len(rows):  # every stored message is still in memory (the usual case)
            return new, anchors, []
        return new, anchors, [key for key in rows if key not in kept]

    def _known(self, message: Message) -> bool:
        entry = self._rows.get(id(message))
        return entry is not None and entry[0] is message

    def _remember(
        self, session: ChatSession, ids: list[int], messages: list[Message] | None = None
    ) -> None:
        for message, rid in zip(
            session._history if messages is None else messages, ids, strict=True
        ):
            self._rows[id(message)] = (message, rid)
            self._ids.add(rid)

    def _saved(self, session: ChatSession, fields: dict[str, Any] | None = None) -> None:
        """The store now holds this session's fields (``fields``, as they were written, or
        as they are now): remember them as the base. A field changed while a write aside
        ran is not in ``fields``, so the next write sends it."""
        if fields is None:
            self._base = session.record_fields()
        else:
            self._base = dict(fields)
        # record_fields() builds new containers (memory and metadata deep-copied), all
        # but the values of settings, which may be shared with session.options
        settings = self._base.get("settings")
        if settings:  # (an empty one is a new dict: nothing in it to share)
            self._base["settings"] = copy.deepcopy(settings)
        for field, name in self._memory_only:  # still to send, should it become storable
            if name is None:
                self._base.pop(field, None)
            else:
                self._base.get(field, {}).pop(name, None)

    # -- reading -------------------------------------------------------------------
    def sync(self, session: ChatSession, pull_all: bool = False) -> None:
        """Take in what other processes wrote since this one last looked (if anything)."""
        with self._lock:
            if self._lost() is not None:
                self._rewrite(session)
            try:
                snap = self.store.changes(session.id, since=self.revision, known=self._ids)
            except StoreError:
                # nothing is lost by not reading: a turn still runs on what memory holds
                if self._lost(session) is not None:
                    self._rewrite(session)
                return
            if snap is None:
                return
            self._apply(session, snap, pull_all)

    def _apply(self, session: ChatSession, snap: Any, pull_all: bool) -> None:
        present = {id(m) for m in session._history}
        by_id = {rid: m for m, rid in self._rows.values()}
        unsaved = [m for m in session._history if not self._known(m)]
        rows: dict[int, tuple[Message, int]] = {}
        history: list[Message] = []
        for rid in snap.order:
            message = by_id.get(rid)
            if message is None:  # written by another process
                message = Message.from_dict(snap.messages[rid])
                history.append(message)
            elif id(message) in present:
                history.append(message)
            # else: removed here but not superseded in the store yet: stays out
            rows[id(message)] = (message, rid)
        history.extend(unsaved)
        if [id(m) for m in history] != [id(m) for m in session._history]:
            session._history = history
            session._last_response = None
        self._rows = rows
        self._ids = set(snap.order)
        self._stored = None
        self._merge_fields(session, snap.record, pull_all)
        self.revision = snap.revision

    def _merge_fields(self, session: ChatSession, theirs: dict[str, Any], pull_all: bool) -> None:
        now = session.record_fields()
        base = self._base
        if pull_all:
            base = self._base = {}
        for field in ("title",):
            if field in base and not _differs(now[field], base[field]):
                session.title = theirs[field]
            base[field] = copy.deepcopy(theirs[field])
        for field in KEYED:
            old = base.get(field) or {}
            merged = dict(theirs.get(field) or {})
            for key, value in now[field].items():
                if key not in old or _differs(old[key], value):
                    merged[key] = value  # set or changed here
            for key in old:
                if key not in now[field]:
                    merged.pop(key, None)  # removed here
            setattr(session, f"_{field}", merged)
            base[field] = copy.deepcopy(theirs.get(field) or {})
        if pull_all:
            for field in SCALARS:
                base.setdefault(field, copy.deepcopy(theirs.get(field)))
        stamp = theirs.get("updated_at")
        if isinstance(stamp, str) and stamp > (session.updated_at or ""):
            session.updated_at = stamp

    # -- trouble -------------------------------------------------------------------
    def _lost(self, session: ChatSession | None = None) -> str | None:
        """Why the stored copy is gone (``None`` while it is not)."""
        if int(getattr(self.store, "epoch", 0)) != self.epoch:
            return "file"
        if session is None:
            return None
        try:
            return None if self.store.exists(session.id) else "session"
        except StoreError:
            return None

    def _rewrite(self, session: ChatSession) -> None:
        """Write the whole session again from memory after its stored copy was lost."""
        why = self._lost(session) or "session"
        try:
            done = self.store.reconcile(self._record(session))
        except StoreError as exc:
            self._fail(session, exc)
            return
        self._rows, self._ids, self._stored = {}, set(), None
        self._remember(session, done.ids)
        self.epoch = int(getattr(self.store, "epoch", 0))
        self.revision = None  # take in anything else the store holds on the next sync
        created = done.previous == 0
        self._base = {}
        if created:
            self._saved(session)
        self._failing = False
        where = self.store.path
        n = len(session._history)
        if why == "file":
            self._warn(
                f"the session store {where} was deleted or replaced while session "
                f"{session.id[:8]} was open; saved its {n} messages to a new store there"
            )
        else:
            self._warn(
                f"session {session.id[:8]} was deleted from the store {where} elsewhere; "
                f"saved it again from memory ({n} messages)"
            )
        if not created:
            self.flush(session)

    def _fail(self, session: ChatSession, exc: StoreError) -> None:
        if self._failing:
            return  # said once already
        self._failing = True
        self._warn(
            f"session {session.id[:8]} not saved for now ({exc}); its changes are kept in "
            "memory and saved with the next change once the store works again"
        )

    def _warn(self, text: str) -> None:
        if self._writer.hold_warning(text):  # a write aside: given on the caller's thread
            return
        warnings.warn(f"jupychat: {text}", UserWarning, stacklevel=5)
