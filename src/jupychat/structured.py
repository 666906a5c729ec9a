"""Structured output: ask a question, get data of a given shape back.

Design note: an extraction is an ordinary turn of the session (in history like any
other, its answer text the JSON) whose request carries the schema
(:class:`~jupychat.providers.base.OutputSchema`, from :func:`jupychat._schema.compile_schema`):

1. a provider with a native mechanism (``structured_output``: Chat Completions
   ``response_format`` on OpenAI, Azure, Ollama, vLLM, llama.cpp…; Anthropic forced tool
   use) gets the schema that way; any other gets it in words, after the question. A
   server that refuses the native request (an old model, a schema it will not take) is
   asked again in words, once; a refused request adds nothing to history;
2. the answer's JSON is checked and turned into the type asked for; if it does not fit,
   one repair turn says what was wrong and asks for the corrected JSON;
3. if that fails too, :class:`~jupychat.errors.StructuredOutputError` says so in one line
   (both attempts stay in history: they were asked and billed).

:func:`stream_extract` / :func:`astream_extract` stream the turn's events (the JSON text
as it arrives, a status line before a repair) and end with the
:class:`~jupychat._turnstate.Response`, whose ``data`` is the value; the notebook runs
them like any turn. ``ChatSession.extract`` / ``aextract`` return the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Generator, Iterable
from dataclasses import asdict, is_dataclass, replace
from typing import TYPE_CHECKING, Any

from ._schema import CompiledSchema, Mismatch, compile_schema
from ._turnplace import after_turn
from ._turnrunner import ChatStream
from ._turnstate import Response, as_parts
from .errors import ProviderError, StructuredOutputError, TurnInterrupted
from .events import StatusEvent
from .providers.base import OutputSchema
from .types import Part, Text

if TYPE_CHECKING:
    from .session import ChatSession

__all__ = [
    "aextract",
    "astream_extract",
    "compile_schema",
    "extract",
    "stream_extract",
    "to_frame",
]

# what a server says when it will not take a structured-output request
_REFUSED = re.compile(r"response_format|json_schema|tool_choice|structur|schema", re.IGNORECASE)


def to_frame(records: Iterable[Any], columns: Iterable[str] | None = None) -> Any:
    """A pandas DataFrame of ``records`` (dataclasses, pydantic models, named tuples, dicts)."""
    import pandas as pd

    rows = []
    for record in records:
        if is_dataclass(record) and not isinstance(record, type):
            rows.append(asdict(record))
        elif callable(getattr(record, "model_dump", None)):
            rows.append(record.model_dump())
        elif callable(getattr(record, "_asdict", None)):
            rows.append(record._asdict())
        else:
            rows.append(dict(record))
    return pd.DataFrame(rows, columns=list(columns) if columns else None)


class _Extraction:
    """One extraction's decisions, shared by the sync and async drivers (no I/O here)."""

    def __init__(
        self,
        session: ChatSession,
        prompt: str | Part | Iterable[Part],
        schema: Any,
        as_frame: bool,
        options: dict[str, Any],
    ) -> None:
        spec = compile_schema(schema, as_frame=as_frame)
        if spec.name in {tool.name for tool in session.tools}:  # one name, one tool
            spec = replace(spec, name=f"{spec.name[:57]}_output")
        self.spec: CompiledSchema = spec
        self.as_frame = as_frame
        self.options = dict(options)
        model = self.options.get("model")
        provider = session.provider if model is None else session._model_for(model, {})
        if model is not None:
            self.options["model"] = provider  # resolved once, for every attempt
        self.native = bool(getattr(provider, "structured_output", False))
        self.model_id = provider.model_id
        self.meta = {**dict(self.options.pop("meta", None) or {}), "structured": self.spec.name}
        self.prompt = as_parts(prompt)

    def output(self) -> OutputSchema:
        spec = self.spec
        return OutputSchema(spec.name, spec.schema, spec.strict, spec.description)

    def instructions(self) -> str:
        schema = json.dumps(self.spec.schema, ensure_ascii=False)
        return (
            "Answer with only a JSON value (no prose, no code fence) that matches this JSON "
            f"Schema:\n{schema}"
        )

    def first(self) -> tuple[list[Part], dict[str, Any]]:
        """The first attempt's prompt and options."""
        options = {**self.options, "meta": self.meta}
        content = list(self.prompt)
        if self.native:
            options["output"] = self.output()
        else:
            content.append(Text("\n\n" + self.instructions()))
        return content, options

    def repair(
        self, problem: Mismatch, after: Response | None = None
    ) -> tuple[list[Part], dict[str, Any]]:
        """The repair attempt: what was wrong, and the request for corrected JSON.

        A placed first attempt (a notebook cell's, issue 21) is followed right there by
        the repair (``after``: the first attempt's response)."""
        dropped = ("replace", "context", "place")
        options = {k: v for k, v in self.options.items() if k not in dropped}
        if "place" in self.options and after is not None and after.messages:
            options["place"] = after_turn(after.messages[0])
        options["meta"] = {**self.meta, "repair": True}
        text = (
            f"That answer does not match the schema {self.spec.name}: {problem}. Reply with "
            "only the corrected JSON."
        )
        if self.native:
            options["output"] = self.output()
        else:
            text += "\n\n" + self.instructions()
        return [Text(text)], options

    def refused(self, exc: BaseException) -> bool:
        """True (and words from now on) when a server would not take the native request."""
        if not self.native or type(exc) is not ProviderError:
            return False
        if exc.status_code not in (400, 422) or not _REFUSED.search(str(exc)):
            return False
        self.native = False
        return True

    def value(self, response: Response) -> Any:
        """The data in ``response``; raises :class:`Mismatch` when it does not fit."""
        if response.interrupted:
            raise TurnInterrupted(
                f"the structured answer was cut off ({response.finish_reason}); nothing was "
                "extracted (the partial answer is kept in history)"
            )
        try:
            value = self.spec.parse(response.text)
        except Mismatch as problem:
            if response.finish_reason == "length":
                raise Mismatch(
                    problem.path, f"{problem} (the answer was cut at max_tokens)"
                ) from None
            raise
        return to_frame(value, self.spec.columns) if self.as_frame else value

    def failure(self, problem: Mismatch) -> StructuredOutputError:
        return StructuredOutputError(
            f"{self.model_id} did not answer in the shape of {self.spec.name}, even after one "
            f"repair ({problem}); try a stronger model, a simpler schema or a clearer question"
        )


def _attempt(
    session: ChatSession, content: list[Part], options: dict[str, Any]
) -> Generator[Any, None, Response]:
    stream = session.stream(content, events=True, **options)
    for item in stream:
        if not isinstance(item, Response):
            yield item
    assert stream.response is not None
    return stream.response


def _drive(session: ChatSession, ex: _Extraction) -> Generator[Any, None, Response]:
    content, options = ex.first()
    try:
        response = yield from _attempt(session, content, options)
    except ProviderError as exc:
        if not ex.refused(exc):
            raise
        yield StatusEvent(f"{ex.model_id} would not take the schema natively; asking in words")
        content, options = ex.first()
        response = yield from _attempt(session, content, options)
    try:
        return _done(session, response, ex.value(response))
    except Mismatch as problem:
        yield StatusEvent(f"the answer does not match {ex.spec.name} ({problem}); asking once more")
        content, options = ex.repair(problem, response)
    response = yield from _attempt(session, content, options)
    try:
        return _done(session, response, ex.value(response))
    except Mismatch as problem:
        raise ex.failure(problem) from None


def _done(session: ChatSession, response: Response, value: Any) -> Response:
    final = replace(response, data=value)
    session._last_response = final
    return final


def stream_extract(
    session: ChatSession,
    prompt: str | Part | Iterable[Part],
    schema: Any,
    *,
    as_frame: bool = False,
    **options: Any,
) -> ChatStream:
    """Run an extraction as a stream of events ending with the :class:`Response`.

    Iterate it (events, status lines, then the Response); afterwards ``stream.response``
    holds the Response and ``stream.response.data`` the value. The arguments are those of
    :meth:`~jupychat.session.ChatSession.extract`. The schema is checked before anything
    is sent (:class:`~jupychat.errors.ConfigError` for one that cannot be used).
    """
    ex = _Extraction(session, prompt, schema, as_frame, options)
    return ChatStream(_drive(session, ex), events=True)


async def _aattempt(
    session: ChatSession, content: list[Part], options: dict[str, Any], out: list[Response]
) -> AsyncIterator[Any]:
    async for item in session.astream(content, events=True, **options):
        if isinstance(item, Response):
            out.append(item)
        else:
            yield item


async def astream_extract(
    session: ChatSession,
    prompt: str | Part | Iterable[Part],
    schema: Any,
    *,
    as_frame: bool = False,
    **options: Any,
) -> AsyncIterator[Any]:
    """Async twin of :func:`stream_extract`: yields events, then the Response."""
    ex = _Extraction(session, prompt, schema, as_frame, options)
    out: list[Response] = []
    content, options = ex.first()
    try:
        async for item in _aattempt(session, content, options, out):
            yield item
    except ProviderError as exc:
        if not ex.refused(exc):
            raise
        yield StatusEvent(f"{ex.model_id} would not take the schema natively; asking in words")
        content, options = ex.first()
        async for item in _aattempt(session, content, options, out):
            yield item
    try:
        yield _done(session, out[-1], ex.value(out[-1]))
        return
    except Mismatch as problem:
        yield StatusEvent(f"the answer does not match {ex.spec.name} ({problem}); asking once more")
        content, options = ex.repair(problem, out[-1])
    async for item in _aattempt(session, content, options, out):
        yield item
    try:
        yield _done(session, out[-1], ex.value(out[-1]))
    except Mismatch as problem:
        raise ex.failure(problem) from None


def extract(
    session: ChatSession,
    prompt: str | Part | Iterable[Part],
    schema: Any,
    *,
    as_frame: bool = False,
    **options: Any,
) -> Any:
    """Ask ``session``, and get the answer as data of the shape ``schema`` describes.

    Parameters
    ----------
    session:
        The :class:`~jupychat.session.ChatSession` (``session.extract(...)`` calls this).
    prompt:
        The question (as for ``send``).
    schema:
        A dataclass, ``TypedDict``, ``NamedTuple`` or pydantic model class, a typing
        expression (``list[Person]``, ``dict[str, float]``, ``Literal["a", "b"]``,
        ``int | None``...), or a JSON Schema dict.
    as_frame:
        Return a pandas DataFrame of records (``schema`` is one record's type, or a list
        of them); its columns are the schema's properties, in order.
    **options:
        As for ``send`` (``model``, ``temperature``, ``max_tokens``, ``context``...).

    Returns
    -------
    Any
        An instance of ``schema``'s type (a list for ``list[...]``, JSON data for a JSON
        Schema dict), or a DataFrame with ``as_frame``. The turn is in history like any
        other (its text is the JSON); ``session.last_response.data`` holds the value too.

    Raises
    ------
    ConfigError
        A schema that cannot be used (raised before anything is sent).
    StructuredOutputError
        The answer did not fit, even after one repair turn.
    """
    stream = stream_extract(session, prompt, schema, as_frame=as_frame, **options)
    for _ in stream:
        pass
    assert stream.response is not None
    return stream.response.data


async def aextract(
    session: ChatSession,
    prompt: str | Part | Iterable[Part],
    schema: Any,
    *,
    as_frame: bool = False,
    **options: Any,
) -> Any:
    """Async twin of :func:`extract`."""
    response: Response | None = None
    async for item in astream_extract(session, prompt, schema, as_frame=as_frame, **options):
        if isinstance(item, Response):
            response = item
    assert response is not None
    return response.data
