"""Structured output against real llama.cpp: its HTTP server and the embedded model both
turn ``response_format`` into a grammar, so even SmolLM2-135M answers in the schema's
shape. Tiny model: the shape is asserted, never the content."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from jupychat import ChatSession
from llama_fixtures import llama_server, needs_llama

__all__ = ["llama_server"]

pytestmark = [needs_llama, pytest.mark.llama]


@dataclass
class Answer:
    city: str
    population: int
    coastal: bool
    size: Literal["small", "medium", "large"]


def test_the_llama_cpp_server_answers_in_the_schema(llama_server):
    session = ChatSession(f"openai-compatible:smollm2@{llama_server}", temperature=0, max_tokens=80)
    answer = session.extract("Describe Lisbon.", Answer)
    assert isinstance(answer, Answer) and isinstance(answer.population, int)
    assert answer.size in ("small", "medium", "large")
    assert len(session.history) == 2  # no repair was needed: the grammar held


def test_the_embedded_model_answers_in_the_schema():
    session = ChatSession("local", temperature=0, max_tokens=120)
    answer = session.extract("Describe Porto.", Answer)
    assert isinstance(answer, Answer) and answer.size in ("small", "medium", "large")
    assert session.history[-1].finish_reason == "stop"
