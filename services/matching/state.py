"""How cases and ledgers are stored in Faust tables: JSON bytes, validated on the way back.

The changelog topics hold these values in the clear, so nothing personal may be in
them: ids, codes, urgency, times, rule names and scores only (the matching profile
itself stays sealed on referral.submitted).
"""

from __future__ import annotations

from pydantic import TypeAdapter

from services.matching.cases import Case
from services.matching.ledger import Ledger

_CASE = TypeAdapter(Case)
_LEDGER = TypeAdapter(Ledger)


def dump_case(case: Case) -> bytes:
    return _CASE.dump_json(case)


def load_case(raw: bytes) -> Case:
    return _CASE.validate_json(raw)


def dump_ledger(ledger: Ledger) -> bytes:
    return _LEDGER.dump_json(ledger)


def load_ledger(raw: bytes) -> Ledger:
    return _LEDGER.validate_json(raw)
