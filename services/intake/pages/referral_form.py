"""The referral form's fields <-> the API's ReferralCreate, with errors a person can act on.

Pure: no HTTP, no database. The form is flat (what a browser posts); the API model
is nested. Validation is the API model's own, so a form can never accept what the
API would refuse, and no rule is written twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from services.intake import problems
from services.intake.schemas import ReferralCreate

Fields = dict[str, list[str]]
DEFAULT_CONSENT_DAYS = 90
# Where an API field path shows up in the form (first match wins, longest first).
FORM_FIELD = {
    "eligibility.age_range": "age", "eligibility.age": "age", "eligibility.languages": "languages",
    "eligibility.dependents": "dependents", "eligibility": "age", "needs": "needs",
    "urgency": "urgency", "location.region": "region", "location.max_distance_km": "distance",
    "contact.phone": "contact_phone", "contact.email": "contact_email",
    "contact.name": "contact_name", "consent.contact_survivor": "consent_survivor",
    "consent.explained_right_to_revoke": "explained", "consent.retention_days": "retention_days",
    "consent": "consent_until",
    "location": "region", "contact": "contact_phone",
}
# What a form field is called in a sentence ("The age must be a whole number, …").
LABELS = {
    "age": "The age", "dependents": "The number of children", "distance": "The distance",
    "languages": "Languages", "contact_phone": "The phone number",
    "contact_email": "The e-mail address", "contact_name": "The name",
    "retention_days": "The number of days to keep the data", "consent_until": "The date",
    "region": "The region",
}
# Where the general words are not enough for the person filling in the form.
HINTS = {
    ("age", "int_parsing"): "Write the age in digits, such as 30. If you only know roughly, "
                            "leave it empty and give a range instead (from 18 to 25).",
    ("distance", "int_parsing"): "Write the distance in whole kilometres, such as 20, or "
                                 "leave it empty.",
    ("contact_phone", "string_pattern_mismatch"): "The phone number may have digits, spaces, "
                                                  "+, brackets and dashes only.",
    ("contact_email", "string_pattern_mismatch"): "The e-mail address must look like "
                                                  "name@example.org.",
    ("consent_until", "datetime_parsing"): "Choose the date consent ends, such as 2026-12-31.",
    ("consent_until", "datetime_from_date_parsing"): "Choose the date consent ends, such as "
                                                     "2026-12-31.",
}


@dataclass
class FormResult:
    """Either a request to submit or the problems to show next to their fields."""

    request: ReferralCreate | None = None
    errors: dict[str, str] = field(default_factory=dict)


def one(fields: Fields, name: str) -> str:
    return (fields.get(name) or [""])[0].strip()


def _number(fields: Fields, name: str) -> int | str | None:
    """An int, None when empty, or the raw text so the model names the field as invalid."""
    text = one(fields, name)
    if not text:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def consent_until(fields: Fields, today: date) -> str:
    """Consent ends at the end of the chosen day (UTC); a default keeps the call short."""
    chosen = one(fields, "consent_until") or str(today + timedelta(days=DEFAULT_CONSENT_DAYS))
    return f"{chosen}T23:59:00Z"


def _eligibility(fields: Fields) -> dict[str, Any]:
    age = _number(fields, "age")
    low, high = _number(fields, "age_min"), _number(fields, "age_max")
    eligibility: dict[str, Any] = {
        "gender_identity": one(fields, "gender_identity") or "not_said",
        "dependents": _number(fields, "dependents") or 0,
        "languages": [code.strip().lower() for code in one(fields, "languages").split(",")
                      if code.strip()],
        "exploitation_types": fields.get("exploitation_types", []),
        "immigration_status": one(fields, "immigration_status") or "unknown",
        "accessibility": fields.get("accessibility", []),
        "pets": "pets" in fields, "substance_use": "substance_use" in fields,
    }
    if age is not None:
        eligibility["age"] = age
    elif low is not None or high is not None:
        eligibility["age_range"] = {"min": low if low is not None else high,
                                    "max": high if high is not None else low}
    return eligibility


def _consent(fields: Fields, today: date) -> dict[str, Any]:
    until = consent_until(fields, today)
    survivor: dict[str, Any] = {"granted": "consent_survivor" in fields}
    if survivor["granted"]:
        survivor |= {
            "expires_at": until, "channel": one(fields, "survivor_channel") or None,
            "language": one(fields, "survivor_language") or None,
            "voicemail_safe": "voicemail_safe" in fields,
            "hours": {"start": one(fields, "survivor_from") or "09:00",
                      "end": one(fields, "survivor_to") or "17:00",
                      "timezone": one(fields, "survivor_timezone") or "Europe/Amsterdam"},
        }
    return {
        "share_profile": {"granted": "consent_profile" in fields,
                          "expires_at": until if "consent_profile" in fields else None},
        "share_contact": {"granted": "consent_contact" in fields,
                          "expires_at": until if "consent_contact" in fields else None},
        "contact_survivor": survivor,
        "retention_days": _number(fields, "retention_days") or 180,
        "explained_right_to_revoke": "explained" in fields,
    }


def to_request(fields: Fields, *, now: datetime | None = None) -> FormResult:
    """Build and validate the API request from the posted form."""
    today = (now or datetime.now(UTC)).date()
    contact = {key: one(fields, f"contact_{key}") or None for key in ("name", "phone", "email")}
    body: dict[str, Any] = {
        "needs": fields.get("needs", []), "urgency": one(fields, "urgency") or None,
        "eligibility": _eligibility(fields),
        "location": {"region": one(fields, "region").lower(),
                     "max_distance_km": _number(fields, "distance")},
        "contact": contact if any(contact.values()) else None,
        "consent": _consent(fields, today),
    }
    try:
        return FormResult(request=ReferralCreate.model_validate(body))
    except ValidationError as invalid:
        return FormResult(errors=errors_by_field(invalid))


def errors_by_field(invalid: ValidationError) -> dict[str, str]:
    """The first message per form field, in plain words, never echoing the value."""
    errors: dict[str, str] = {}
    for item in invalid.errors():
        path = ".".join(str(part) for part in item["loc"] if not isinstance(part, int))
        name = next((FORM_FIELD[key] for key in sorted(FORM_FIELD, key=len, reverse=True)
                     if path == key or path.startswith(key + ".")), path or "form")
        errors.setdefault(name, _words(name, item))
    return errors


def field_of(api_field: str) -> str:
    """The form field for a ConsentProblem's API field path."""
    for key in sorted(FORM_FIELD, key=len, reverse=True):
        if api_field == key or api_field.startswith(key + "."):
            return FORM_FIELD[key]
    return "form"


def _words(name: str, item: ErrorDetails) -> str:
    """A whole sentence for the person at the form, in plain words, never the value typed."""
    hint = HINTS.get((name, item["type"]))
    if hint is not None:
        return hint
    said = problems.message(item)
    if item["type"] == "value_error":  # the schema's own sentence (a rule across fields)
        return said
    if name not in LABELS:
        return said[:1].upper() + said[1:] + "."
    return f"{LABELS[name]} {said}."
