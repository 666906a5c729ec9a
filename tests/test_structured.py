"""Structured output: schemas from types and dicts, each provider's native mechanism over
the loopback server, the fallback in words with one repair round, failure in one line,
DataFrames of records, and ``%%chat --out NAME --schema S`` in a real shell."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json
import sys
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, NotRequired, TypedDict

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from doc_examples import REPO, run_example
from fixtures_server import fake_server
from jupychat import ChatSession, StructuredOutputError
from jupychat._schema import Mismatch, compile_schema, json_from_text
from jupychat.errors import ConfigError
from jupychat.providers.anthropic import anthropic_provider, build_payload
from jupychat.providers.base import ChatRequest, OutputSchema
from jupychat.providers.fake import get_fake
from jupychat.providers.openai import compatible_provider, openai_provider
from jupychat.types import Message

__all__ = ["fake_server"]

KEY = "sk-test-structured-0123456789abcdef"
FAST = {"backoff": 0.001, "max_backoff": 0.01}


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


@dataclass
class Address:
    city: str
    zip_code: str | None = None


@dataclass
class Person:
    """Someone named in the text."""

    name: str
    age: int
    address: Address
    tags: list[str] = field(default_factory=list)
    size: Size = Size.SMALL


class Movie(TypedDict):
    title: str
    year: int
    rating: NotRequired[float]


class Point(NamedTuple):
    x: float
    y: float = 0.0


@dataclass
class City:
    name: str
    country: str
    population: int


ADA = {
    "name": "Ada",
    "age": 36,
    "address": {"city": "London", "zip_code": None},
    "tags": ["math"],
    "size": "large",
}
CITY_SCHEMA = {
    "title": "city",
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "country": {"type": "string"},
        "population": {"type": "integer", "minimum": 0},
    },
    "required": ["name", "country", "population"],
    "additionalProperties": False,
}
CITIES = [
    {"name": "Lyon", "country": "FR", "population": 522_000},
    {"name": "Porto", "country": "PT", "population": 232_000},
]


# ------------------------------------------------------------------------- schemas


def test_a_dataclass_becomes_a_strict_schema_and_loads_back():
    spec = compile_schema(Person)
    assert spec.name == "Person" and spec.strict and spec.wrap is None
    assert spec.description == "Someone named in the text."
    props = spec.schema["properties"]
    assert spec.schema["required"] == ["name", "age", "address", "tags", "size"]
    assert spec.schema["additionalProperties"] is False
    assert props["age"] == {"type": "integer"}
    assert props["size"] == {"anyOf": [{"enum": ["small", "large"]}, {"type": "null"}]}
    assert props["address"]["properties"]["zip_code"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}]
    }
    person = spec.load(ADA)
    assert person == Person("Ada", 36, Address("London"), ["math"], Size.LARGE)
    # null (the strict form of "not given") and a missing key both mean the default
    assert spec.load({**ADA, "tags": None, "size": None}).tags == []
    assert spec.load({k: v for k, v in ADA.items() if k != "size"}).size is Size.SMALL


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({**ADA, "age": "forty"}, 'age: expected an integer, got "forty"'),
        ({**ADA, "age": True}, "age: expected an integer"),
        ({k: v for k, v in ADA.items() if k != "name"}, "name: missing"),
        ({**ADA, "address": {"zip_code": "1"}}, "address.city: missing"),
        ({**ADA, "tags": ["a", 3]}, "tags[1]: expected a string, got 3"),
        ({**ADA, "size": "medium"}, 'size: expected one of "small", "large", got "medium"'),
        ([ADA], "expected an object with name, age"),
    ],
)
def test_a_mismatch_names_the_path(value, where):
    with pytest.raises(Mismatch) as caught:
        compile_schema(Person).load(value)
    assert where in str(caught.value) and "\n" not in str(caught.value)


def test_typeddict_namedtuple_and_typing_expressions():
    movie = compile_schema(Movie)
    assert movie.schema["required"] == ["title", "year", "rating"]  # strict: all listed
    assert movie.load({"title": "Up", "year": 2009, "rating": None}) == {
        "title": "Up",
        "year": 2009,
    }
    assert movie.load({"title": "Up", "year": 2009.0, "rating": 8}) == {
        "title": "Up",
        "year": 2009,
        "rating": 8.0,
    }
    assert compile_schema(Point).load({"x": 1, "y": None}) == Point(1.0, 0.0)
    ints = compile_schema(list[int])
    assert ints.wrap == "items" and ints.schema["properties"]["items"]["type"] == "array"
    assert ints.load({"items": [1, 2]}) == [1, 2] and ints.load([3]) == [3]  # bare is fine too
    choice = compile_schema(Literal["yes", "no"])
    assert choice.wrap == "value" and choice.load({"value": "no"}) == "no"
    assert compile_schema(int | None).load(None) is None
    assert compile_schema(dict[str, float]).load({"a": 1}) == {"a": 1.0}
    assert not compile_schema(dict[str, float]).strict  # open-ended keys: not strict
    assert compile_schema(dt.date).load("2024-02-29") == dt.date(2024, 2, 29)
    assert compile_schema(tuple[int, str]).load([1, "a"]) == (1, "a")


def test_unusable_schemas_fail_before_anything_is_sent():
    with pytest.raises(ConfigError, match="cannot describe 'complex' as a schema"):
        compile_schema(complex)
    with pytest.raises(ConfigError, match="not valid"):
        compile_schema({"type": "object", "properties": {"a": {"type": "strnig"}}})
    with pytest.raises(ConfigError, match="as_frame needs records"):
        compile_schema(int, as_frame=True)


@pytest.mark.parametrize("with_jsonschema", [True, False])
def test_json_schema_dicts_are_checked_with_or_without_jsonschema(monkeypatch, with_jsonschema):
    if not with_jsonschema:
        monkeypatch.setitem(sys.modules, "jsonschema", None)  # import fails: the subset runs
    spec = compile_schema(CITY_SCHEMA)
    assert spec.name == "city" and spec.strict
    assert spec.load(CITIES[0]) == CITIES[0]
    with pytest.raises(Mismatch, match="population"):
        spec.load({**CITIES[0], "population": -5})
    with pytest.raises(Mismatch, match="country"):
        spec.load({"name": "x", "population": 1})
    listed = compile_schema(
        {"type": "array", "items": {"$ref": "#/$defs/c"}, "$defs": {"c": CITY_SCHEMA}}
    )
    assert listed.wrap == "items" and "$defs" in listed.schema  # refs still resolve
    assert listed.load({"items": CITIES}) == CITIES
    with pytest.raises(Mismatch, match=r"\[1\]"):
        listed.load([CITIES[0], {"name": "x"}])


def test_pydantic_models_describe_and_validate_themselves():
    pydantic = pytest.importorskip("pydantic")

    class Book(pydantic.BaseModel):
        title: str
        pages: int = pydantic.Field(gt=0)

    spec = compile_schema(list[Book])
    assert spec.records and spec.columns == ("title", "pages")
    assert spec.load({"items": [{"title": "Emma", "pages": 474}]}) == [
        Book(title="Emma", pages=474)
    ]
    with pytest.raises(Mismatch, match=r"\[0\]\.pages"):
        spec.load([{"title": "Emma", "pages": 0}])


def test_json_is_found_in_fenced_and_chatty_answers():
    assert json_from_text('```json\n{"a": 1}\n```') == {"a": 1}
    assert json_from_text('Sure! Here it is: {"a": [1, 2]} Hope this helps.') == {"a": [1, 2]}
    with pytest.raises(Mismatch, match="holds no JSON"):
        json_from_text("I cannot help with that.")


# -------------------------------------------------------- native, over the wire


def test_openai_asks_with_response_format_json_schema(fake_server):
    session = ChatSession(
        openai_provider("gpt-4o-mini", base_url=fake_server.openai_base_url, api_key=KEY, **FAST)
    )
    fake_server.enqueue(json.dumps(ADA), chunk_size=5)
    person = session.extract("Who is described here? Ada, 36, lives in London.", Person)
    assert person == Person("Ada", 36, Address("London"), ["math"], Size.LARGE)
    body = fake_server.last.body
    assert body["response_format"]["type"] == "json_schema"
    spec = body["response_format"]["json_schema"]
    assert (spec["name"], spec["strict"]) == ("Person", True)
    assert spec["schema"] == compile_schema(Person).schema
    assert body["messages"][-1]["content"] == "Who is described here? Ada, 36, lives in London."
    assert session.history[-1].text == json.dumps(ADA)  # the turn's answer is the JSON
    assert session.last_response.data == person


def test_anthropic_forces_a_tool_and_streams_its_input_as_the_answer(fake_server):
    def rows(name: str) -> str:
        """Rows of a table."""
        return "3"

    provider = anthropic_provider(
        "claude-sonnet-4-0", base_url=fake_server.anthropic_base_url, api_key=KEY, **FAST
    )
    session = ChatSession(provider, tools=[rows])
    fake_server.enqueue(
        None, tool_calls=[{"name": "City_list", "arguments": {"items": CITIES}}], chunk_size=7
    )

    async def run():
        return await session.aextract("Cities in the text?", list[City])

    cities = asyncio.run(run())
    assert cities == [City(**c) for c in CITIES]
    body = fake_server.last.body
    assert body["tool_choice"] == {"type": "tool", "name": "City_list"}
    assert [t["name"] for t in body["tools"]] == ["rows", "City_list"]  # the session's stay first
    assert body["tools"][-1]["input_schema"] == compile_schema(list[City]).schema
    answer = session.history[-1]
    assert answer.tool_calls == [] and json.loads(answer.text) == {"items": CITIES}
    assert answer.finish_reason == "stop"
    # the next ordinary turn works: no dangling tool call in history
    fake_server.enqueue("Two cities.")
    assert session.send("How many?").text == "Two cities."


def test_anthropic_with_thinking_may_not_force_a_tool():
    request = ChatRequest(
        [Message.of("user", "x")],
        output=OutputSchema("City", CITY_SCHEMA, True),
        extra={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    )
    assert build_payload("claude-sonnet-4-0", request)["tool_choice"] == {"type": "auto"}


def test_a_server_that_refuses_the_schema_is_asked_in_words(fake_server):
    provider = compatible_provider("old-model", base_url=fake_server.openai_base_url, **FAST)
    session = ChatSession(provider)
    fake_server.enqueue(
        status=400,
        error_message="Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
    )
    fake_server.enqueue(json.dumps({"name": "Lyon", "country": "FR", "population": 522000}))
    city = session.extract("Lyon, France, 522k people.", City)
    assert city == City("Lyon", "FR", 522000)
    first, second = (r.body for r in fake_server.requests)
    assert "response_format" in first and "response_format" not in second
    assert '"population"' in second["messages"][-1]["content"]  # the schema, in words
    assert len(session.history) == 2  # the refused request added nothing


# ------------------------------------------------------ fallback, repair, failure


def test_the_fallback_repairs_once_with_the_validation_error():
    fake = get_fake("structured")
    session = ChatSession("fake:structured")
    fake.enqueue('Here you go:\n```json\n{"title": "Up", "year": "two thousand nine"}\n```')
    fake.enqueue('{"title": "Up", "year": 2009}')
    movie = session.extract("Name a Pixar film and its year.", Movie)
    assert movie == {"title": "Up", "year": 2009}
    first, repair = fake.requests
    assert first.output is None  # the fake has no native mechanism: the schema is in words
    asked = first.messages[-1].text
    assert asked.startswith("Name a Pixar film") and '"year": {"type": "integer"}' in asked
    said = repair.messages[-1].text
    assert 'year: expected an integer, got "two thousand nine"' in said
    assert [m.role for m in session.history] == ["user", "assistant", "user", "assistant"]
    assert session.history[-1].text == '{"title": "Up", "year": 2009}'


def test_a_model_that_never_complies_fails_in_one_line():
    fake = get_fake("stubborn")
    session = ChatSession("fake:stubborn")
    fake.enqueue("I'd rather talk about the weather.")
    fake.enqueue("Still the weather.")
    with pytest.raises(StructuredOutputError) as caught:
        session.extract("Give me a city.", City)
    message = str(caught.value)
    assert "\n" not in message
    assert "fake:stubborn did not answer in the shape of City" in message
    assert "holds no JSON" in message
    assert len(session.history) == 4  # both attempts were asked (and billed): kept


@pytest.mark.parametrize(
    ("schema", "answer", "expected"),
    [
        (City, CITIES[0], City(**CITIES[0])),
        (Movie, {"title": "Up", "year": 2009}, {"title": "Up", "year": 2009}),
        (Point, {"x": 1.5, "y": 2}, Point(1.5, 2.0)),
        (CITY_SCHEMA, CITIES[1], CITIES[1]),
        (list[str], {"items": ["a", "b"]}, ["a", "b"]),
    ],
)
def test_each_schema_kind_comes_back_as_its_type(schema, answer, expected):
    get_fake("kinds").enqueue(json.dumps(answer))
    value = ChatSession("fake:kinds").extract("go", schema)
    assert value == expected and type(value) is type(expected)


def test_pydantic_through_a_session(fake_server):
    pydantic = pytest.importorskip("pydantic")

    class Book(pydantic.BaseModel):
        title: str
        pages: int

    session = ChatSession(
        openai_provider("gpt-4o-mini", base_url=fake_server.openai_base_url, api_key=KEY, **FAST)
    )
    fake_server.enqueue('{"title": "Emma", "pages": 474}')
    assert session.extract("a novel", Book) == Book(title="Emma", pages=474)
    assert fake_server.last.body["response_format"]["json_schema"]["name"] == "Book"


def test_records_come_back_as_a_dataframe(fake_server):
    session = ChatSession(
        openai_provider("gpt-4o-mini", base_url=fake_server.openai_base_url, api_key=KEY, **FAST)
    )
    fake_server.enqueue(json.dumps({"items": CITIES}))
    frame = session.extract("List the cities.", City, as_frame=True)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["name", "country", "population"]
    assert frame["population"].dtype.kind == "i" and frame.shape == (2, 3)
    fake_server.enqueue(json.dumps(CITIES))  # a JSON Schema dict of records, answered bare
    frame = session.extract("Again.", {"type": "array", "items": CITY_SCHEMA}, as_frame=True)
    assert frame.to_dict("records") == CITIES


# ------------------------------------------------------------------ the notebook


@dataclass
class Sale:
    region: str
    total: float


@pytest.fixture
def shell(notebook_shell):
    return notebook_shell("fake:cells", "/work/structured.ipynb")


def test_chat_out_schema_stores_the_typed_value(shell):
    shell.user_ns["Sale"] = Sale
    fake = get_fake("cells")
    fake.enqueue('{"items": [{"region": "north", "total": 12.5}, {"region": "south", "total": 3}]}')
    with capture_output() as out:
        result = shell.run_cell("%%chat --out sales --schema Sale --frame\nTotals by region?")
    assert result.success, result.error_in_exec
    sales = shell.user_ns["sales"]
    assert isinstance(sales, pd.DataFrame) and list(sales["total"]) == [12.5, 3.0]
    assert "north" in out.stdout or out.outputs  # the JSON answer was shown as it came
    fake.enqueue('{"region": "east", "total": "n/a"}')
    fake.enqueue('{"region": "east", "total": 7}')
    with capture_output():
        result = shell.run_cell("%%chat --out one --schema Sale\nAnd the east?")
    assert result.success, result.error_in_exec
    assert shell.user_ns["one"] == Sale("east", 7.0)
    assert fake.requests[-1].messages[-1].text.startswith("That answer does not match")


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%chat --schema Sale\nx", "--schema needs --out NAME"),
        ("%%chat --out y --schema Nope\nx", "no variable 'Nope'"),
        ("%%chat --out y --schema Bad\nx", "cannot describe"),
    ],
)
def test_chat_schema_mistakes_are_one_line(shell, cell, message):
    shell.user_ns["Sale"] = Sale
    shell.user_ns["Bad"] = complex
    fake = get_fake("cells")
    with capture_output() as out:
        result = shell.run_cell(cell)
    assert isinstance(result.error_in_exec, UsageError)
    assert message in str(result.error_in_exec) and "\n" not in str(result.error_in_exec)
    assert fake.requests == [] and "Traceback" not in out.stdout


def test_the_json_that_fits_wins_over_json_quoted_before_it():
    spec = compile_schema(City)
    text = 'Using {"type": "object"} as the shape, the answer is {"name": "Oslo", "country": "NO", "population": 709000}.'
    assert spec.parse(text) == City("Oslo", "NO", 709000)
    with pytest.raises(Mismatch, match="name: missing"):
        spec.parse('Only {"type": "object"} here.')


def test_the_docs_example_runs_as_printed(tmp_path):
    text = (REPO / "docs" / "structured-output.md").read_text("utf-8")
    expected, out = run_example(text, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == expected and len(expected) == 6


def test_async_fallback_repairs_too_and_a_schema_never_shadows_a_tool(fake_server):
    from jupychat import Tool

    def lookup() -> str:
        """A tool that happens to be named like the schema."""
        return "tool"

    tool = Tool.from_function(lookup, name="City")
    fake = get_fake("async")
    session = ChatSession("fake:async", tools=[tool])
    fake.enqueue('{"name": "Nice", "country": "FR"}')
    fake.enqueue('{"name": "Nice", "country": "FR", "population": 342000}')
    assert asyncio.run(session.aextract("Nice?", City)) == City("Nice", "FR", 342000)
    assert "population: missing" in fake.requests[-1].messages[-1].text
    provider = anthropic_provider(
        "claude-sonnet-4-0", base_url=fake_server.anthropic_base_url, api_key=KEY, **FAST
    )
    session = ChatSession(provider, tools=[tool])
    fake_server.enqueue(None, tool_calls=[{"name": "City_output", "arguments": CITIES[0]}])
    assert session.extract("Lyon?", City).name == "Lyon"
    assert [t["name"] for t in fake_server.last.body["tools"]] == ["City", "City_output"]
