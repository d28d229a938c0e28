"""Property-based tests of the published OpenAPI document with schemathesis: whatever a
client sends within (or just outside) the documented shapes, the server answers with a
documented status, never a 5xx, and every error has the ``{"error": {...}}`` shape."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Workspace
from unico.container import Container
from unico.core.settings import load_settings
from unico.web.app import create_app

BASE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: /v1/batch accepts a batch with some invalid messages on purpose (they are dead-lettered
#: and the rest stored), so schema-invalid data there is not always rejected.
PARTIAL = {("POST", "/v1/batch")}
EXAMPLES = 25
POSTGRES_EXAMPLES = 10
BAD_AUTH_EXAMPLES = 15
#: Deterministic runs (the same examples each time, no example database on disk).
SETTINGS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    "derandomize": True,
    "database": None,
}


def published_document() -> dict[str, Any]:
    """The OpenAPI document as the app publishes it (building an app opens no database)."""
    container = Container.build(load_settings(database_url="sqlite://"))
    try:
        return dict(create_app(container, manage=False).openapi())
    finally:
        container.store.dispose()


schema = schemathesis.openapi.from_dict(published_document())
#: Without the right keys, random examples are enough: the coverage phase's every boundary
#: value of every field would only be refused at the door, over and over.
fuzzed_schema = schemathesis.openapi.from_dict(
    published_document(),
    config=schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}}),
)


@pytest.fixture
def app(container: Container, ws: Workspace) -> FastAPI:
    """An app over the container ``ws``'s client runs (``manage=False``: schemathesis holds
    every app's lifespan open until the process exits, and the fixtures own this container)."""
    return create_app(container, manage=False)


def test_the_tested_document_is_the_one_served(ws: Workspace) -> None:
    served = ws.client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == published_document()


def is_write_key_operation(case: schemathesis.Case[Any]) -> bool:
    """Collection and decisions take the public write key; every other route the secret key."""
    return "collect" in (case.operation.tags or []) or case.operation.path == "/v1/decide"


def credentials(case: schemathesis.Case[Any], ws: Workspace, which: str) -> dict[str, str]:
    """Headers with the kind of key the operation wants (``valid``), none, or wrong ones."""
    admin = not is_write_key_operation(case)
    if which == "none":
        return {}
    if which == "wrong kind":
        key = ws.created.write_key if admin else ws.created.secret_key
    elif which == "unknown":
        key = "sk_unknown" if admin else "wk_unknown"
    else:
        key = ws.created.secret_key if admin else ws.created.write_key
    if admin:
        return {"Authorization": f"Bearer {key}"}
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def checks_for(case: schemathesis.Case[Any]) -> list[Any]:
    operation = (case.operation.method.upper(), case.operation.path)
    return BASE_CHECKS if operation in PARTIAL else [*BASE_CHECKS, negative_data_rejection]


def check_error_shape(response: Response) -> None:
    if response.status_code < 400:
        return
    body: Any = response.json()
    error = body["error"]
    # Some errors add details (a syntax error's line, column and hint) beside the three keys.
    assert {"code", "message", "field"} <= set(error), body
    assert isinstance(error["code"], str) and error["code"], body
    assert isinstance(error["message"], str) and error["message"], body
    assert error["field"] is None or isinstance(error["field"], str), body


def run_with_the_right_keys(case: schemathesis.Case[Any], ws: Workspace, app: FastAPI) -> int:
    response = case.call(app=app, headers=credentials(case, ws, "valid"))
    case.validate_response(response, checks=checks_for(case))
    check_error_shape(response)
    return int(response.status_code)


@pytest.mark.parametrize("backend", ["sqlite"])
@settings(max_examples=EXAMPLES, **SETTINGS)
@schema.parametrize()
def test_with_the_right_keys(case: schemathesis.Case[Any], ws: Workspace, app: FastAPI) -> None:
    assert run_with_the_right_keys(case, ws, app) < 500


@pytest.mark.parametrize("backend", ["postgres"])  # a smaller run: the same code, another store
@settings(max_examples=POSTGRES_EXAMPLES, **SETTINGS)
@schema.parametrize()
def test_with_the_right_keys_on_postgres(
    case: schemathesis.Case[Any], ws: Workspace, app: FastAPI
) -> None:
    assert run_with_the_right_keys(case, ws, app) < 500


@pytest.mark.parametrize("backend", ["sqlite"])  # keys are checked before any store work
@settings(max_examples=BAD_AUTH_EXAMPLES, **SETTINGS)
@fuzzed_schema.parametrize()
def test_without_the_right_keys_nothing_succeeds(
    case: schemathesis.Case[Any], ws: Workspace, app: FastAPI
) -> None:
    for which in ("none", "unknown", "wrong kind"):
        response = case.call(app=app, headers=credentials(case, ws, which))
        case.validate_response(response, checks=BASE_CHECKS)
        check_error_shape(response)
        if case.operation.path != "/health":
            assert 400 <= response.status_code < 500, (which, response.text)
