"""What one ``describe`` call asks for (passed to every registered describer).

Design note: registered describers take ``(obj, request)``; keeping the options in one
small value lets third parties register describers without tracking our keyword list.
"""

from __future__ import annotations

from dataclasses import dataclass

from .settings import ContextSettings

__all__ = ["Request"]


@dataclass(frozen=True)
class Request:
    """Options of one description.

    Parameters
    ----------
    name:
        The variable name (shown in the title), or None.
    settings:
        Privacy, sampling and budget settings.
    budget:
        Token budget of this description (its hard cap).
    focus:
        Column names to describe in full even in a wide frame.
    private:
        The variable's own name looks personal/secret: withhold its values.
    """

    name: str | None
    settings: ContextSettings
    budget: int
    focus: tuple[str, ...] = ()
    private: bool = False
