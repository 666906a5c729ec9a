"""The writer thread of a session's writes aside (see :mod:`jupychat._storelink`).

Design note: a notebook cell hands its store writes to one worker thread, which runs
them one at a time and in order while the cell shows the answer; the cell then waits
for all of them (:meth:`StoreWriter.wait`) before it returns, so they are as durable as
writes made in place. The worker stays :data:`WORKER_IDLE` seconds after its last task
(a cell run soon after the last one does not wait for a thread to start, ~1-2 ms on a
busy machine). Each task sees the config file as the turn that gave it does
(``config.settled``). The store's upkeep that these writes made due (indexing the new
messages for search, the periodic WAL checkpoint) runs on the worker once :meth:`wait`
has let the caller go (``SessionStore.deferring_checkpoints``) and no new work came for
:data:`UPKEEP_IDLE` seconds: never between two writes of one cell, and not beside the
next cell of a notebook run top to bottom (it would pay for it).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from . import config

__all__ = ["UPKEEP_IDLE", "WORKER_IDLE", "StoreWriter"]

#: Seconds the worker waits for more work before it ends.
WORKER_IDLE = 30.0
#: Seconds without new work before the worker runs the store's upkeep (indexing the new
#: messages for search, the periodic WAL checkpoint): not while the next cell of a
#: "Run All" is working beside it, but soon after the notebook rests.
UPKEEP_IDLE = 0.25


class StoreWriter:
    """One worker thread running the tasks given to :meth:`queue`, in order."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._lock = threading.Condition(threading.Lock())
        self._tasks: list[tuple[Callable[..., Any], tuple[Any, ...], config.View | None]] = []
        self.pending = 0  # tasks queued and not done yet
        self.thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._held: list[str] | None = None  # warnings of the tasks, until wait()
        self._due = False  # the tasks made the store's upkeep due
        self._settled = False  # wait() let the caller go: the worker may do the upkeep

    def queue(self, work: Callable[..., Any], *args: Any) -> None:
        """Run ``work(*args)`` on the worker, after the work given before it; the caller
        goes on, and :meth:`wait` (which must be called) waits for all of it."""
        view = config.turn_view()
        with self._lock:
            self._tasks.append((work, args, view))
            self.pending += 1
            self._settled = False  # a checkpoint waits for this work's wait()
            if self._held is None:
                self._held = []
            if self.thread is not None:
                self._lock.notify_all()  # the waiting worker takes it
                return
            thread = threading.Thread(target=self._drain, name="jupychat-store-write", daemon=True)
            self.thread = thread
            thread.start()  # (it waits for this lock before looking at the tasks)

    def hold_warning(self, text: str) -> bool:
        """Keep ``text`` for :meth:`wait` when called from a task (True), else False."""
        held = self._held
        if held is not None and threading.current_thread() is self.thread:
            held.append(text)
            return True
        return False

    def wait(self) -> tuple[list[str], BaseException | None]:
        """Wait for the queued work: its held warnings, and the first error it raised."""
        with self._lock:
            # (an interrupt here leaves the rest to the next wait())
            self._lock.wait_for(lambda: not self.pending)
            held, self._held = self._held or [], None
            if self._due and self.thread is not None:
                self._due = False
                self._settled = True  # the worker's upkeep: not while a cell waits
                self._lock.notify_all()
        error, self._error = self._error, None
        return held, error

    def _drain(self) -> None:
        # the store's checkpoint waits until wait() has let the caller go
        deferring = getattr(self.store, "deferring_checkpoints", contextlib.nullcontext)
        with deferring():
            self._drain_tasks()

    def _drain_tasks(self) -> None:
        lock = self._lock
        while True:
            with lock:
                if not self._tasks and not self._settled:
                    lock.wait_for(lambda: bool(self._tasks or self._settled), WORKER_IDLE)
                settled, self._settled = self._settled and not self._tasks, False
                if settled:  # the caller has gone on: the store's upkeep, once it is idle
                    lock.wait_for(lambda: bool(self._tasks), UPKEEP_IDLE)
                    if self._tasks:  # the next cell came first: its own wait() is next
                        settled, self._due = False, True
                if not (settled or self._tasks):
                    self.thread = None  # idle: the next queue() starts another
                    return
                if not settled:
                    work, args, view = self._tasks.pop(0)
            if settled:
                self._checkpoint()
                continue
            try:
                with config.settled(view):
                    work(*args)
            except BaseException as exc:  # given to the caller by wait()
                self._error = self._error or exc
            finally:
                due = self._checkpoint_wanted()
                with lock:
                    self.pending -= 1
                    self._due = self._due or due
                    if not self.pending:  # wait() waits for this (not for each task)
                        lock.notify_all()

    def _checkpoint_wanted(self) -> bool:
        wanted = getattr(self.store, "checkpoint_wanted", None)
        try:
            return bool(wanted()) if wanted is not None else False
        except Exception:
            return False

    def _checkpoint(self) -> None:
        due = getattr(self.store, "checkpoint_due", None)
        if due is None:
            return
        try:
            due()
        except Exception:  # nothing is lost by not checkpointing; the worker must live on
            pass
