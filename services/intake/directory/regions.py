"""The network's regions and where each one lies: the coarse position a distance limit needs.

Matching measures "at most 20 km" from the person's approximate position. Intake never
asks for an address: the position it sends is the centroid of the region the outreach
worker picked, computed from the network's own locations (each first rounded to about
10 km, as confidential places are published), and rounded again to about 10 km. It is a
fact about the region, the same for everyone in it, so it identifies nobody.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlmodel import Session, select

from services.intake.directory.models import Location

PRECISION = 1  # decimal degrees: about 11 km of latitude, 7 km of longitude here


class RegionProblem(ValueError):
    """A region the network does not have, where one is needed; `field` says where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def centroid(points: Iterable[tuple[float, float]]) -> tuple[float, float] | None:
    """The mean of coarse points, itself coarse; None for no points."""
    coarse = [(round(lat, PRECISION), round(lon, PRECISION)) for lat, lon in points]
    if not coarse:
        return None
    return (round(sum(lat for lat, _ in coarse) / len(coarse), PRECISION),
            round(sum(lon for _, lon in coarse) / len(coarse), PRECISION))


def network_regions(*, session: Session) -> dict[str, tuple[float, float]]:
    """Every region the directory has a location in, with its centroid."""
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for region, latitude, longitude in session.exec(
            select(Location.region, Location.latitude, Location.longitude)):
        points[region].append((latitude, longitude))
    found = {region: centroid(coords) for region, coords in points.items()}
    return {region: point for region, point in sorted(found.items()) if point is not None}


def region_names(*, session: Session) -> list[str]:
    """The network's regions: every region the directory has a location in."""
    return sorted(set(session.exec(select(Location.region).distinct())))


def canonical_region(*, session: Session, region: str) -> str:
    """The network's own code for the region given (any case), or RegionProblem.

    A free-text region ("Amsterdam" where the network says "noord-holland") never scored
    "same region" and silently weakened the ranking (issue 19, defect 7). A network whose
    directory has no location yet has nothing to check against: the region is kept as given.
    """
    known = region_names(session=session)
    if not known:
        return region
    found = {name.lower(): name for name in known}.get(region.strip().lower())
    if found is None:
        raise RegionProblem("location.region",
                            "This is not one of the network's regions, so no provider "
                            f"would count as near. Pick one of: {', '.join(known)}.")
    return found


def position_for_distance(*, session: Session, region: str,
                          max_distance_km: int | None) -> tuple[float, float] | None:
    """The coarse position matching measures a distance limit from; None without a limit.

    A limit in a region the network does not know cannot be honoured, and silently
    ignoring it once offered a bed 200 km away: that is refused with the regions to pick.
    """
    if max_distance_km is None:
        return None
    regions = network_regions(session=session)
    if region in regions:
        return regions[region]
    known = ", ".join(regions) or "none yet: the directory has no locations"
    raise RegionProblem("location.region",
                        "A distance limit is measured from the region the person is in, and "
                        f"this region is not one of the network's. Pick one of: {known}; or "
                        "leave the distance empty.")
