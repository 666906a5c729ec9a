"""Wrapping one attribute of a live object, and unwrapping it only if it is still ours.

Design note: the cell record (:mod:`.cells`) observes IPython by wrapping a few bound
methods on the shell's own objects (its display formatter and publisher, its display
hook, ``_showtraceback``, ``sys.stdout.write``) as instance attributes, so nothing global
or class-level changes. Another library may wrap the same attribute after us; undoing then
leaves the chain alone (our wrapper only passes calls through), instead of cutting the
other wrapper out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["Patch"]

log = logging.getLogger(__name__)


class Patch:
    """One attribute of one object replaced by a wrapper, undone only if still ours."""

    def __init__(self, target: Any, name: str, make: Callable[[Any], Any]) -> None:
        self.target = target
        self.name = name
        self.previous = getattr(target, name)
        try:
            self.had_own = name in vars(target)
        except TypeError:
            self.had_own = False
        self.wrapper = make(self.previous)
        setattr(target, name, self.wrapper)

    def undo(self) -> None:
        try:
            if getattr(self.target, self.name, None) is not self.wrapper:
                return  # wrapped again on top of us: leave the chain alone (ours passes through)
            if self.had_own:
                setattr(self.target, self.name, self.previous)
            else:
                delattr(self.target, self.name)
        except Exception as exc:
            log.debug("cannot undo patch of %s: %s", self.name, exc)
