"""Grants share a partition with their referral's events.

A grant's record key is `<referral>/<recipient>/<grant id>` (so compaction and
tombstones work per grant), but it is partitioned by the referral id alone,
exactly like the referral's events. A worker that owns partition p of the
referral topics therefore also owns every grant it needs for them.
"""

from __future__ import annotations

import random
from typing import Any

from kafka.partitioner.abc import Partitioner
from kafka.partitioner.default import murmur2


def referral_partitioner(key: bytes | None, all_partitions: list[int],
                         available: list[int]) -> int:
    """Java-compatible murmur2 over the key up to its first '/', as Kafka's default would."""
    ordered = sorted(all_partitions)
    if key is None:
        return random.choice(sorted(available) or ordered)
    index = (murmur2(key.split(b"/", 1)[0]) & 0x7FFFFFFF) % len(ordered)
    return int(ordered[index])


class ReferralPartitioner(Partitioner):  # type: ignore[misc]  # kafka-python ships no types
    """The same rule for kafka-python 3 producers, which want a Partitioner object."""

    def partition(self, topic: str, key: Any, serialized_key: bytes | None, value: Any,
                  serialized_value: bytes | None, cluster: Any) -> int:
        all_partitions = list(cluster.partitions_for_topic(topic) or [])
        available = list(cluster.available_partitions_for_topic(topic) or [])
        return referral_partitioner(serialized_key, all_partitions, available)
