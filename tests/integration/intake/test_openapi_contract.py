"""The OpenAPI document tells the truth: schemathesis sends generated requests (valid and
invalid) to every operation as each role and unauthenticated, with all of its checks on
(status codes, response schemas, content types, headers, negative data rejected, ...)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support.intake import Intake

# Valid by the schema, refused by a rule no JSON Schema can state (422 naming the rule):
# schemathesis' positive_data_acceptance is off for these, and only for these.
RULES_BEYOND_THE_SCHEMA = {
    "POST /api/v1/referrals": "consent dates in the future, an age or an age range given",
    "POST /api/v1/referrals/{referral_id}/consent": "contact terms only for contact_survivor",
    "PUT /api/v1/referrals/{referral_id}/contact-terms": "a real IANA time zone name",
    "POST /api/v1/services/{service_id}/capacity/change": "a change of at least one place",
    "POST /api/v1/me/totp/confirm": "the code the authenticator shows now",
    "POST /api/v1/directory/hsds/tabular": "the upload is a zip of CSV tables",
}
EXAMPLES = 2  # per operation, mode and role (x2 modes x4 roles: ~700 requests), in-process


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite only: the contract is the app's; the other API tests run on both databases."""
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'contract.sqlite3'}"


@pytest.fixture(scope="module")
def operations(intake: Intake) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", intake.client.app)
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 40
    return found


def _failures(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> list[str]:
    seen: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        beyond = operation.label in RULES_BEYOND_THE_SCHEMA
        try:
            case.validate_response(response, headers=headers,
                                   excluded_checks=[positive_data_acceptance] if beyond else [])
        except (AssertionError, FailureGroup) as failure:
            text = failure.message if isinstance(failure, FailureGroup) else str(failure)
            summary = [line.strip() for line in text.splitlines() if line.strip()][1:3]
            seen.append(f"{operation.label} ({mode.value}): {' | '.join(summary)} "
                        f"-> {response.status_code} {response.text[:160]}")

    try:
        check()
    except Unsatisfiable:  # nothing to make invalid (an operation without inputs)
        assert mode is GenerationMode.NEGATIVE
    return seen


@pytest.mark.parametrize("role", [None, "outreach", "provider", "admin"])
def test_every_operation_keeps_its_contract(intake: Intake, operations: list[Any],
                                            role: str | None) -> None:
    headers = {} if role is None else intake.members[role].headers
    failures = [failure for operation in operations
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                for failure in _failures(operation, mode, headers)]
    assert failures == [], f"{len(failures)} contract failures:\n" + "\n".join(
        sorted(set(failures))[:40])


def test_the_document_is_valid_openapi(intake: Intake) -> None:
    from openapi_spec_validator import validate

    document = intake.client.get("/openapi.json").json()
    validate(document)
    problem = document["paths"]["/api/v1/referrals"]["post"]["responses"]["422"]
    assert problem["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationProblem"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    submit = document["paths"]["/api/v1/referrals"]["post"]["responses"]
    assert {"200", "201", "400", "401", "403", "409", "413", "422", "503"} <= set(submit)
    consent = document["paths"]["/api/v1/referrals/{referral_id}/consent"]["post"]
    assert {"404", "410"} <= set(consent["responses"])
    assert "Retry-After" in submit["503"]["headers"]
