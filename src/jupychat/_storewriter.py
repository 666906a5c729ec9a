"""The writer thread of a session's writes aside (see :mod:`jupychat._storelink`).

Design note: a notebook cell hands its store writes to one worker thread, which runs
them one at a time and in order; the cell then waits for all of them
(:meth:`StoreWriter.wait`) before it returns, so they are as durable as writes made in
place. The turn's own write comes once the answer is shown, when the cell has nothing
left to do but wait: it runs on the cell's thread as one of the tasks
(:meth:`StoreWriter.run_here`; a hand-over cost two thread wake-ups, 0.4-0.7 ms on a
two-core VM, more with steal time). The worker stays :data:`WORKER_IDLE` seconds after
its last task (a cell run soon after the last one does not wait for a thread to start,
~1-2 ms on a busy machine). Each task sees the config file as the turn that gave it does
(``config.settled``). The store's upkeep that these writes made due (indexing the new
messages for search, the periodic WAL checkpoint) runs on the worker once :meth:`wait`
has let the caller go (``SessionStore.deferring_checkpoints``) and no new work came for
:data:`UPKEEP_IDLE` seconds: never between two writes of one cell, and not beside the
next cell of a notebook run top to bottom (it would pay for it).
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from . import config

try:  # signal.signal without its enum conversion of the old handler (~20 us a pair)
    from _signal import signal as _set_handler
except ImportError:  # pragma: no cover (another Python)
    _set_handler = signal.signal

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
        self._here: int | None = None  # the thread running a task itself (run_here)
        self._waiting = 0  # threads in wait()
        self._runs = 0  # tasks run_here() started: new work, as a queued task is
        self._upkeep_wait = False  # the worker waits to see that no new work comes

    def queue(self, work: Callable[..., Any], *args: Any) -> None:
        """Run ``work(*args)`` on the worker, after the work given before it; the caller
        goes on, and :meth:`wait` (which must be called) waits for all of it."""
        view = config.turn_view()
        with self._lock:
            self._tasks.append((work, args, view))
            self._task_given()
            if self.thread is not None:
                self._lock.notify_all()  # the waiting worker takes it
                return
            thread = self.thread = self._new_worker()
            thread.start()  # (it waits for this lock before looking at the tasks)

    def _task_given(self) -> None:
        """Count a new task (under the lock); a checkpoint waits for its wait()."""
        self.pending += 1
        self._settled = False
        if self._held is None:
            self._held = []

    def _new_worker(self) -> threading.Thread:
        return threading.Thread(target=self._drain, name="jupychat-store-write", daemon=True)

    def run_here(self, work: Callable[..., Any], *args: Any) -> None:
        """Run ``work(*args)`` on the caller's thread as one of the tasks: its warnings and
        its error are given by :meth:`wait`, and the store's upkeep it makes due is left
        to the worker. For work nothing runs beside (a cell's turn write, once the answer
        is shown): handing it to the worker would only add two thread wake-ups. Ctrl-C is
        held until it is done (a write and what this process notes of it are never torn
        apart), then raised. Queued as usual when other work is still queued."""
        with self._lock:
            queued = bool(self.pending)
            if not queued:
                self._task_given()
                self._here = threading.get_ident()
                self._runs += 1
                if self._upkeep_wait:  # new work came: no upkeep beside it
                    self._lock.notify_all()
        if queued:
            self.queue(work, *args)
            return
        deferring = getattr(self.store, "deferring_checkpoints", contextlib.nullcontext)
        due = False
        try:
            with _interrupts_held(), deferring():
                try:
                    work(*args)
                except Exception as exc:  # given to the caller by wait(), as a task's
                    self._error = self._error or exc
                due = self._checkpoint_wanted()
        finally:
            with self._lock:
                self._here = None
                self.pending -= 1
                self._due = self._due or due
                start = self._due and self.thread is None
                if start:  # a worker for the upkeep (wait() tells it to go)
                    self.thread = self._new_worker()
                thread = self.thread
                if self._waiting:  # (not the worker: nothing for it yet)
                    self._lock.notify_all()
            if start and thread is not None:
                thread.start()

    def hold_warning(self, text: str) -> bool:
        """Keep ``text`` for :meth:`wait` when called from a task (True), else False."""
        held = self._held
        if held is not None and (
            threading.current_thread() is self.thread or threading.get_ident() == self._here
        ):
            held.append(text)
            return True
        return False

    def wait(self) -> tuple[list[str], BaseException | None]:
        """Wait for the queued work: its held warnings, and the first error it raised."""
        with self._lock:
            # (an interrupt here leaves the rest to the next wait())
            self._waiting += 1
            try:
                self._lock.wait_for(lambda: not self.pending)
            finally:
                self._waiting -= 1
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
                    runs = self._runs
                    self._upkeep_wait = True
                    try:
                        lock.wait_for(functools.partial(self._new_work, runs), UPKEEP_IDLE)
                    finally:
                        self._upkeep_wait = False
                    if self._new_work(runs):  # the next cell came first:
                        settled, self._due = False, True  # its own wait() is next
                        if not self._tasks:
                            continue  # (it runs its write itself)
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

    def _new_work(self, runs: int) -> bool:
        """Work queued, or run here, since :attr:`_runs` was ``runs``."""
        return bool(self._tasks) or self._runs != runs

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


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Within the block, a Ctrl-C (SIGINT) waits; it is raised again when the block ends.
    Only the main thread receives signals, so elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    try:
        before = _set_handler(signal.SIGINT, lambda signum, frame: got.append(signum))
    except (ValueError, TypeError, OSError):  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        _set_handler(signal.SIGINT, before)
        if got:
            signal.raise_signal(signal.SIGINT)  # as the handler in place would have had it
