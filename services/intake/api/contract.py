"""The OpenAPI document says what the API really answers.

FastAPI declares its own 422 body (`detail` as a list) and only the success code.
Haven answers every error as `{"detail": "<what to do>"}` (422s add `errors`, one
entry per field) and its guards add 401, 403, 404, 409, 410, 413, 429 and 503. The
rules below add each code where it can happen, derived from the route itself (is it
signed-in only, has it path parameters or a body, is it a referral), so a new route
is declared right without anyone remembering to. `tests/integration/intake/
test_openapi_contract.py` holds the document to the app with schemathesis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

PROBLEM = {"title": "Problem", "type": "object", "required": ["detail"],
           "properties": {"detail": {"type": "string",
                                     "description": "What went wrong and what to do."}}}
FIELD_PROBLEM = {"title": "FieldProblem", "type": "object", "required": ["field", "message"],
                 "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}
VALIDATION_PROBLEM = {
    "title": "ValidationProblem", "type": "object", "required": ["detail"],
    "properties": {"detail": {"type": "string", "description": "A summary of the problems."},
                   "errors": {"type": "array",
                              "items": {"$ref": "#/components/schemas/FieldProblem"}}}}
READINESS = {"title": "Readiness", "type": "object", "required": ["status"],
             "properties": {"status": {"type": "string"}, "broker": {"type": "string"}}}

WHY = {
    "400": "The body cannot be read (not UTF-8 JSON), or the request cannot be done in "
           "this state; the message says which.",
    "401": "Not signed in, or the token expired: sign in again.",
    "403": "Signed in, but this role or organization may not do this.",
    "404": "Nothing with this id (or not visible to you).",
    "409": "A conflicting change or an equal request at the same moment; the message says "
           "which. Nothing was saved twice.",
    "410": "This referral's personal data were erased.",
    "413": "The body is larger than this route accepts.",
    "422": "A field is missing or not valid; `errors` names each one.",
    "429": "Too many attempts; wait and try again.",
    "503": "The database is busy or unreachable; nothing was saved. Send it again "
           "(see Retry-After).",
}
_WRITES = {"post", "put", "patch", "delete"}
# Codes a route answers beyond the rules, by operation ("METHOD /path").
EXTRA: dict[str, tuple[str, ...]] = {
    "POST /api/v1/auth/token": ("401", "429"),
    "POST /api/v1/me/totp": ("400",),
    "POST /api/v1/me/password": ("429",),
    "POST /api/v1/admin/users": ("404",),  # organization_id in the body
    "POST /api/v1/admin/api-keys": ("404",),
}


def install(app: FastAPI) -> None:
    """Replace `app.openapi` with one that declares every answer (built once, cached)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if getattr(app.state, "openapi_declared", False) and app.openapi_schema:
            return app.openapi_schema
        document = build()
        declare(document)
        app.state.openapi_declared = True
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def declare(document: dict[str, Any]) -> None:
    """Add the problem schemas and every error answer to each operation, in place."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(Problem=PROBLEM, FieldProblem=FIELD_PROBLEM,
                   ValidationProblem=VALIDATION_PROBLEM, Readiness=READINESS)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _declare_operation(path, method, operation)


def _codes(path: str, method: str, operation: dict[str, Any]) -> set[str]:
    if path == "/healthz":
        return set()
    codes = {"503"}
    if operation.get("security"):
        codes |= {"401", "403"}
    if operation.get("parameters") or operation.get("requestBody"):
        codes.add("422")
    if "{" in path or any(p.get("name", "").endswith("_id")
                          for p in operation.get("parameters", ())):
        codes.add("404")
    if method in _WRITES:
        codes.add("409")
    if operation.get("requestBody"):
        codes |= {"400", "413"}  # 400: a body that is not UTF-8 cannot even be read
    if path.startswith("/api/v1/referrals/{"):
        codes.add("410")
    return codes | set(EXTRA.get(f"{method.upper()} {path}", ()))


def _declare_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for code in sorted(_codes(path, method, operation)):
        schema = "ValidationProblem" if code == "422" else (
            "Readiness" if path == "/readyz" else "Problem")
        answer: dict[str, Any] = {"description": WHY[code], "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{schema}"}}}}
        if code == "503" and path != "/readyz":
            answer["headers"] = {"Retry-After": {"description": "Seconds to wait.",
                                                 "schema": {"type": "integer"}}}
        responses[code] = answer
    if path == "/readyz":
        responses["200"]["content"] = {"application/json": {
            "schema": {"$ref": "#/components/schemas/Readiness"}}}
        responses["503"]["description"] = "The broker does not answer: not ready for work."
    if (method, path) == ("post", "/api/v1/referrals"):
        created = responses["201"]
        responses["200"] = {"description": "The same Idempotency-Key and body were sent "
                                           "before: the referral made then.",
                            "content": created["content"]}
