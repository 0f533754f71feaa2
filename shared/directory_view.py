"""The directory as a consumer sees it: the latest event per key of the compacted topics.

Pure: whoever reads the topics (matching's tables, the replay test, a new service)
folds records into a `DirectoryView` and gets the same answer as the intake database.
Stale versions of a capacity figure (a redelivered or reordered record) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared import topics
from shared.crypto.keystore import PublicKeyRecord
from shared.events import CapacityUpdated, Event, OrganizationUpserted, ServiceUpserted


@dataclass
class DirectoryView:
    organizations: dict[str, OrganizationUpserted] = field(default_factory=dict)
    services: dict[str, ServiceUpserted] = field(default_factory=dict)
    capacity: dict[str, CapacityUpdated] = field(default_factory=dict)

    def apply(self, event: Event) -> bool:
        """Take one directory event; False when it was older than what is known."""
        if isinstance(event, OrganizationUpserted):
            self.organizations[event.key()] = event
        elif isinstance(event, ServiceUpserted):
            self.services[event.key()] = event
        elif isinstance(event, CapacityUpdated):
            known = self.capacity.get(event.key())
            if known is not None and known.version > event.version:
                return False
            self.capacity[event.key()] = event
        else:
            return False
        return True

    def forget(self, topic: str, key: str) -> None:
        """A tombstone: the record under this key is gone."""
        if topic == topics.DIRECTORY_ORGANIZATIONS.name:
            self.organizations.pop(key, None)
        elif topic == topics.DIRECTORY_SERVICES.name:
            self.services.pop(key, None)
        elif topic == topics.CAPACITY_UPDATES.name:
            self.capacity.pop(key, None)

    def public_keys(self) -> list[PublicKeyRecord]:
        """Every organization's published keys, for sealing offers to them."""
        return [key for org in self.organizations.values() if org.active
                for key in org.public_keys]


DIRECTORY_TOPICS = (topics.DIRECTORY_ORGANIZATIONS, topics.DIRECTORY_SERVICES,
                    topics.CAPACITY_UPDATES)
