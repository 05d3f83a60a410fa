"""Schemathesis over the live app's own OpenAPI document: no 5xx, and every response matches it.

Every documented operation gets generated requests, valid and invalid (schemathesis' positive and
negative modes), sent as the admin (so nothing stops at 401 before the route runs) through the same
app a service runs, with its safety pipeline live. Signing out is left out (it would end the fuzzer's
own session; ``tests/web`` covers it). The test client re-raises an exception inside a route, so a
would-be 500 shows with its cause.

Schemathesis' own pytest integration (``from_fixture``) does not run under pytest 9 here
(``'Function' object has no attribute '_nodeid'``), so its strategies are driven with Hypothesis
directly, one operation at a time. The fuzzing runs once per module; each test reads its findings.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from live_harness import LiveHarness

pytestmark = pytest.mark.slow  # about 10 s: hundreds of generated requests through the live app

EXAMPLES_PER_MODE = int(os.environ.get("GASGUARD_FUZZ_EXAMPLES", "8"))
"""Requests per operation and mode; 8 keeps the run near 10 s, set GASGUARD_FUZZ_EXAMPLES=200 to dig deeper."""
LEFT_OUT = {("POST", "/api/v1/auth/logout")}


@dataclass
class Findings:
    operations: list[str] = field(default_factory=list)
    requests: int = 0
    server_errors: dict[str, str] = field(default_factory=dict)
    schema_violations: dict[str, str] = field(default_factory=dict)


def _note(found: dict[str, str], where: str, exc: BaseException) -> None:
    found.setdefault(where, " ".join(str(exc).split())[:400])


def _fuzz(operation: Any, mode: GenerationMode, live: LiveHarness, headers: dict[str, str], out: Findings) -> None:
    where = f"{operation.label} ({mode.value})"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_MODE, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: schemathesis.Case) -> None:
        out.requests += 1
        try:
            response = live.client.request(**case.as_transport_kwargs(base_url="http://testserver", headers=headers))
        except Exception as exc:  # raised inside the app: a 500 in a real server
            _note(out.server_errors, where, exc)
            return
        for check, found in (
            (not_a_server_error, out.server_errors),
            (response_schema_conformance, out.schema_violations),
        ):
            try:
                case.validate_response(response, checks=[check])
            except (Exception, BaseExceptionGroup) as exc:
                _note(found, where, exc)

    with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (an operation without parameters)
        run()


@pytest.fixture(scope="module")
def findings(fuzz_live: LiveHarness) -> Findings:
    headers = fuzz_live.headers("ada")
    schema = schemathesis.openapi.from_dict(fuzz_live.client.get("/openapi.json").json())
    out = Findings()
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in LEFT_OUT:
            continue
        out.operations.append(operation.label)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, fuzz_live, headers, out)
    return out


def test_every_operation_was_fuzzed(findings: Findings) -> None:
    for label in ("POST /api/v1/ingest/readings", "POST /api/v1/valves/{valve_id}/open", "GET /api/v1/readings"):
        assert label in findings.operations
    assert findings.requests >= 10 * len(findings.operations)


def test_no_request_gets_a_server_error(findings: Findings) -> None:
    assert findings.server_errors == {}


def test_every_response_matches_the_schema(findings: Findings) -> None:
    assert findings.schema_violations == {}


def test_the_only_schema_violations_are_the_known_422_shape(findings: Findings) -> None:
    """Until the 422 schema is fixed: anything else that breaks the schema still fails here."""
    other = {k: v for k, v in findings.schema_violations.items() if "HTTPValidationError" not in v}
    assert other == {}
