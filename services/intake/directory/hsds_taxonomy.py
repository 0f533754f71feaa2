"""The `haven` taxonomy: what HSDS has no field for, published as an HSDS taxonomy with terms.

HSDS 3.1 attributes point at a taxonomy term that needs its own `id`, `name` and
`description`. Ids are name-based UUIDs (uuid5), so every export, on every
installation, names the same term with the same id and another tool can join on it.
"""

from __future__ import annotations

import uuid
from typing import Any

NAME = "haven"
ID = uuid.uuid5(uuid.NAMESPACE_URL, "https://haven.example/hsds/taxonomy/haven")
VERSION = "1"
DESCRIPTION = ("Haven's referral vocabulary for what HSDS has no field for: organization "
               "kind, region, eligibility rules and the waiting list. One term per rule; "
               "the attribute's value carries the rule's value.")

LIST_RULES = ("genders", "languages", "exploitation_types", "immigration_statuses",
              "accessibility")
FLAG_RULES = ("dependents_allowed", "substance_use_accepted", "pets_allowed")

TERMS: dict[str, str] = {
    "organization_kind": "Role in the network: outreach, provider or coordinator.",
    "region": "Region (province) the organization or location belongs to.",
    "active": "Whether the organization takes part in the network (true/false).",
    "confidential": "A confidential location (a shelter): no address, coarse coordinates.",
    "service_type": "Haven service type, e.g. emergency_shelter or legal_aid.",
    "genders": "A gender the service accepts; none listed means no restriction.",
    "exploitation_types": "A form of exploitation the service is for; none means any.",
    "immigration_statuses": "An immigration status the service accepts; none means any.",
    "accessibility": "An accessibility need the service can meet.",
    "dependents_allowed": "Whether clients may bring dependents (true/false).",
    "substance_use_accepted": "Whether clients with active substance use are taken (true/false).",
    "pets_allowed": "Whether clients may bring pets (true/false).",
    "waitlist_length": "People on the service's waiting list (a whole number).",
}


def term_id(code: str) -> uuid.UUID:
    """The stable id of one term of the `haven` taxonomy."""
    return uuid.uuid5(ID, code)


def term(code: str) -> dict[str, Any]:
    """One term as HSDS 3.1 `taxonomy_term` (id, code, name, description, taxonomy)."""
    return {"id": str(term_id(code)), "code": code, "name": code,
            "description": TERMS[code], "taxonomy": NAME, "taxonomy_id": str(ID)}


def taxonomy() -> dict[str, Any]:
    """The taxonomy itself, as HSDS 3.1 `taxonomy`."""
    return {"id": str(ID), "name": NAME, "description": DESCRIPTION, "version": VERSION}


def terms() -> list[dict[str, Any]]:
    """Every term, in a stable order."""
    return [term(code) for code in sorted(TERMS)]
