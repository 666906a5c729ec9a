"""Privacy: excluded variables/columns, personal-looking names, values levels, secrets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupychat.context import ContextSettings, DataTools, describe, is_pii_name, turn_context
from jupychat.context.privacy import redact_secrets


@pytest.mark.parametrize(
    "name",
    [
        "email",
        "user_email",
        "EMAIL_ADDRESS",
        "e-mail",
        "emails",
        "firstName",
        "first_name",
        "LastName",
        "username",
        "phone",
        "phone_number",
        "mobile",
        "ssn",
        "password",
        "passwd",
        "api_key",
        "apiKey",
        "secret",
        "client_secret",
        "access_token",
        "token",
        "address",
        "street_address",
        "ip_address",
        "full name",
        "customer_name",
        "date_of_birth",
        "dob",
        "zip",
        "zip_code",
        "key",
        ("contact", "email"),
    ],
)
def test_personal_names_are_detected(name):
    assert is_pii_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "keyboard",
        "monkey",
        "hockey_score",
        "tokenizer",
        "primary_key",
        "sort_key",
        "product_name",
        "file_name",
        "column_name",
        "token_count",
        "n_tokens",
        "num_tokens",
        "has_email",
        "name_length",
        "email_verified",
        "price",
        "region",
        "id",
        "addressable",
        "rename",
        "nickel",
        "phonetic",
        "secretary_general_count",
        "sin",
        "cos",
        "name",
        "studyName",
        "Name",
    ],
)
def test_ordinary_names_are_not(name):
    assert not is_pii_name(name)


def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    return pd.DataFrame(
        {
            "user_email": [f"p{i}@corp.com" for i in range(n)],
            "phone": rng.integers(5550000, 5559999, n),
            "salary": rng.normal(50_000, 5_000, n).round(),
            "note": ["call me"] * (n - 1) + ["key sk-abcdefghijklmnopqrstuvwx1234"],
            "region": rng.choice(["n", "s"], n),
        }
    )


def test_private_columns_keep_statistics_but_never_show_values():
    df = frame()
    text = describe(df, "people")
    email_row = next(line for line in text.splitlines() if line.startswith("| user_email |"))
    assert "len 11–13" in email_row and "values withheld (privacy)" in email_row
    phone_row = next(line for line in text.splitlines() if line.startswith("| phone |"))
    assert "min" not in phone_row and "values withheld" in phone_row
    assert "@corp.com" not in text and "555" not in text.partition("Random example rows")[2]
    assert "sk-abcdefghij" not in text


def test_settings_override_the_default_detector():
    df = frame()
    text = describe(
        df,
        "people",
        settings=ContextSettings(public_columns=("phone",), private_columns=("salary",)),
    )
    assert next(ln for ln in text.splitlines() if ln.startswith("| phone |")).count("min") == 1
    assert "values withheld" in next(ln for ln in text.splitlines() if ln.startswith("| salary |"))
    off = describe(df, "people", settings=ContextSettings(pii=False))
    assert "@corp.com" in off or "values withheld" not in off


def test_excluded_columns_and_variables_disappear_everywhere():
    df = frame()
    settings = ContextSettings(
        exclude_columns=("people.salary", "reg*"), exclude_vars=("secret_*",)
    )
    text = describe(df, "people", settings=settings)
    assert "salary" not in text and "region" not in text
    assert "2 column(s) left out by the exclude_columns setting" in text
    ns = {"people": df, "secret_plan": "world domination", "x": 1}
    blocks = turn_context(ns, ["people", "secret_plan"], settings)
    assert "excluded" in blocks["var:secret_plan"] and "domination" not in str(blocks)
    assert "secret_plan" not in blocks["inventory"]
    tools = DataTools(lambda: ns, settings)
    assert "not available" in tools.describe_variable("secret_plan")
    assert "has no column 'salary'" in tools.describe_column("people", "salary")
    assert "salary" not in tools.get_rows("people", 5)


def test_values_levels():
    df = frame()
    agg = describe(df, "people", values="aggregates")
    assert "Random example rows" not in agg and "top" not in agg
    assert "mean" in agg
    schema = describe(df, "people", values="schema")
    assert "| column | dtype |" in schema and "nulls" not in schema and "mean" not in schema
    no_rows = describe(df, "people", settings=ContextSettings(sample_rows=0, inline_rows=0))
    assert "example rows" not in no_rows and "All 200 rows" not in no_rows
    tools = DataTools(lambda: {"people": df}, ContextSettings(values="aggregates"))
    assert "not available" in tools.get_rows("people")
    assert "not available" in tools.value_counts("people", ["region"])
    assert "top" not in tools.describe_column("people", "region")


def test_variables_with_personal_names_are_withheld():
    ns = {
        "api_key": "abc123notlookingsecret",
        "password": "hunter2",
        "passwords": ["a", "b"],
        "cfg": {"token": "t0k3n", "retries": 3},
    }
    for name in ("api_key", "password", "passwords"):
        text = describe(ns[name], name)
        assert "withheld" in text and str(ns[name])[:5] not in text.split(":", 1)[1]
    cfg = describe(ns["cfg"], "cfg")
    assert "'token': ‹withheld›" in cfg and "'retries': 3" in cfg
    inv = turn_context(ns, [])["inventory"]
    assert "hunter2" not in inv and "abc123" not in inv


def test_secret_looking_values_are_redacted_anywhere():
    text = "use sk-proj-abcdefghijklmnopqrstuvwxyz and ghp_abcdefghijklmnopqrstuvwxyz0123"
    out = redact_secrets(text)
    assert "sk-proj" not in out and "ghp_" not in out and out.count("‹secret›") == 2
    assert "withheld" in describe("sk-abcdefghijklmnopqrstuvwxyz", "note")
    inv = turn_context({"note": "sk-abcdefghijklmnopqrstuvwxyz"}, [])["inventory"]
    assert "sk-" not in inv
