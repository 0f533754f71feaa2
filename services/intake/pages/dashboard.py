"""The network admin's numbers: flow, waiting times, declines, capacity and unmet needs.

Computed from intake's own tables (referrals, offers, timeline, capacity). Gap
counts open the sealed profiles of waitlisted and returned referrals to group
them, and every count below SUPPRESS_BELOW is withheld so nobody can be singled out.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from services.intake.audit import Action
from services.intake.directory.handlers import aware, is_stale, places_of
from services.intake.directory.models import Capacity, Location, Service
from services.intake.handlers import Ports
from services.intake.models import AuditEntry, Organization, Referral, TimelineEntry
from services.intake.offers.models import Offer
from services.intake.read_models import EXCLUDED_BY
from services.intake.vault import VaultError
from services.intake.watch import store as watch
from shared.references import referral_reference

SUPPRESS_BELOW = 5
UNMET = ("waitlisted", "returned")


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile of a waiting time, in hours, over `count` referrals."""

    count: int
    median_h: float | None
    p90_h: float | None


def spread(hours: list[float]) -> Spread:
    if not hours:
        return Spread(0, None, None)
    ordered = sorted(hours)
    p90 = ordered[0] if len(ordered) == 1 else statistics.quantiles(ordered, n=10)[-1]
    return Spread(len(ordered), round(statistics.median(ordered), 2), round(p90, 2))


def suppressed(counts: Iterable[tuple[str, int]]) -> list[tuple[str, int | None]]:
    """Counts under the threshold become None ("fewer than 5"), largest first."""
    return [(label, count if count >= SUPPRESS_BELOW else None)
            for label, count in sorted(counts, key=lambda item: (-item[1], item[0]))]


def accounts_locked(session: Session, *, now: datetime) -> int:
    """Accounts locked after failed sign-ins in the last 24 hours: an alert for admins
    (someone may be guessing passwords; the audit trail says which accounts)."""
    return len(session.exec(select(AuditEntry.id).where(
        AuditEntry.action == Action.SIGN_IN_LOCKED.value,
        col(AuditEntry.at) >= now - timedelta(hours=24))).all())


def by_stage(session: Session) -> list[tuple[str, int]]:
    """How many referrals are in each state right now (erased ones are not counted)."""
    found = Counter(session.exec(select(Referral.status).where(
        col(Referral.erased_at).is_(None))).all())
    return sorted(found.items(), key=lambda item: -item[1])


def waiting_times(session: Session, ports: Ports) -> dict[str, dict[str, dict[str, Spread]]]:
    """Referral to first offer and to acceptance: overall, per ISO week and per region."""
    referrals = {r.id: r for r in session.exec(select(Referral).where(
        col(Referral.erased_at).is_(None))).all()}
    first: dict[Any, datetime] = {}
    accepted: dict[Any, datetime] = {}
    for offer in session.exec(select(Offer)).all():
        made = aware(offer.made_at)
        if offer.referral_id in referrals:
            first[offer.referral_id] = min(made, first.get(offer.referral_id, made))
        if offer.status == "accepted" and offer.answered_at is not None:
            accepted[offer.referral_id] = aware(offer.answered_at)
    regions = {key: _region(session, ports, referrals[key]) for key in first}
    result: dict[str, dict[str, dict[str, Spread]]] = {"week": {}, "region": {}}
    for name, moments in (("first_offer", first), ("acceptance", accepted)):
        weeks: dict[str, list[float]] = {"all": []}
        places: dict[str, list[float]] = {}
        for referral_id, moment in moments.items():
            if referral_id not in referrals:
                continue
            created = aware(referrals[referral_id].created_at)
            hours = max(0.0, (moment - created).total_seconds() / 3600)
            weeks["all"].append(hours)
            weeks.setdefault("{}-W{:02d}".format(*created.isocalendar()[:2]), []).append(hours)
            places.setdefault(regions.get(referral_id, "?"), []).append(hours)
        result["week"][name] = {key: spread(hours) for key, hours in sorted(weeks.items())}
        result["region"][name] = {key: spread(hours) for key, hours in sorted(places.items())}
    return result


def _region(session: Session, ports: Ports, referral: Referral) -> str:
    """The region the person was in, from the sealed profile ("?" once it cannot be read)."""
    try:
        profile = json.loads(ports.vault.open(session, referral.id, "profile",
                                              referral.sealed_profile))
    except VaultError:
        return "?"
    return str(profile["location"]["region"])


def answers_by_provider(session: Session) -> list[dict[str, Any]]:
    """Accepted and declined offers per provider, with the decline reasons."""
    names = {o.id: o.name for o in session.exec(select(Organization)).all()}
    table: dict[str, dict[str, Any]] = {}
    for offer in session.exec(select(Offer).where(
            col(Offer.status).in_(["accepted", "declined", "expired"]))).all():
        row = table.setdefault(names.get(offer.organization_id, "?"),
                               {"accepted": 0, "declined": 0, "expired": 0, "reasons": Counter()})
        row[offer.status] += 1
        if offer.status == "declined":
            row["reasons"][offer.reason or "other"] += 1
    return [{"provider": name, **row} for name, row in sorted(table.items())]


def capacity_by_region(session: Session, *, now: datetime,
                       stale_after: timedelta) -> list[dict[str, Any]]:
    """Per region: services, open places (Haven's holds and placements taken off), places
    held and placed, waiting lists, stale figures."""
    regions: dict[str, dict[str, int]] = {}
    rows = session.exec(select(Service, Capacity, Location)
                        .where(Service.id == Capacity.service_id,
                               Service.location_id == Location.id,
                               col(Service.active).is_(True))).all()
    for _, capacity, location in rows:
        row = regions.setdefault(location.region, Counter())
        row["services"] += 1
        places = places_of(capacity)
        row["open"] += places.open
        row["held"] += places.held
        row["placed"] += places.placed
        row["waitlist"] += capacity.waitlist_length
        row["stale"] += is_stale(capacity, now=now, stale_after=stale_after)
    return [{"region": region, **row} for region, row in sorted(regions.items())]


def stuck(session: Session, ports: Ports, *, now: datetime) -> list[dict[str, Any]]:
    """Referrals stuck right now (the watch alerted them and nothing moved since): their
    short reference, the outreach organization, what is stuck and since when."""
    names = {o.id: o.name for o in session.exec(select(Organization)).all()}
    return [{"reference": referral_reference(alert.referral_id), "stuck": alert.stuck,
             "organization": names.get(alert.organization_id, "?"),
             "alerted_at": alert.alerted_at, "detail": alert.detail}
            for alert in watch.open_alerts(session, vault=ports.vault, now=now)]


def gaps(session: Session, ports: Ports) -> dict[str, list[tuple[str, int | None]]]:
    """Unmet needs: waitlisted and returned referrals grouped several ways, small counts hidden."""
    groups: dict[str, Counter[str]] = {key: Counter() for key in (
        "service_type", "region", "reason", "excluded_by", "age_band", "gender_identity",
        "language", "children")}
    for referral in session.exec(select(Referral).where(col(Referral.status).in_(UNMET),
                                                        col(Referral.erased_at).is_(None))):
        last = session.exec(select(TimelineEntry).where(  # why it is in its status now
            TimelineEntry.referral_id == referral.id,
            TimelineEntry.kind == f"status:{referral.status}").order_by(
            col(TimelineEntry.at).desc(), col(TimelineEntry.id).desc())).first()
        groups["reason"][last.detail if last else referral.status] += 1
        rule = session.exec(select(TimelineEntry).where(
            TimelineEntry.referral_id == referral.id, TimelineEntry.kind == EXCLUDED_BY)
            .order_by(col(TimelineEntry.at).desc(), col(TimelineEntry.id).desc())).first()
        groups["excluded_by"][rule.detail if rule else "(no rule: nobody offered it)"] += 1
        try:
            profile = json.loads(ports.vault.open(session, referral.id, "profile",
                                                  referral.sealed_profile))
        except VaultError:
            continue
        _count_profile(groups, profile)
    return {name: suppressed(counter.items()) for name, counter in groups.items()}


def _count_profile(groups: dict[str, Counter[str]], profile: dict[str, Any]) -> None:
    facts = profile["eligibility"]
    for need in profile["needs"]:
        groups["service_type"][need] += 1
    groups["region"][profile["location"]["region"]] += 1
    age = facts.get("age")
    low = age if age is not None else (facts.get("age_range") or {}).get("min", 0)
    groups["age_band"]["under 18" if low < 18 else "18–24" if low < 25 else
                       "25–39" if low < 40 else "40 and over"] += 1
    groups["gender_identity"][facts.get("gender_identity") or "not_said"] += 1
    for language in facts.get("languages") or ["(none given)"]:
        groups["language"][language] += 1
    groups["children"]["with children" if facts.get("dependents") else "no children"] += 1
