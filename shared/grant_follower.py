"""Follows `referral.keys` for one reader: opens its grants, honours tombstones, indexes all.

A plain kafka-python thread with no consumer group: it reads the compacted topic
from the beginning at every start, so a restarted or rebalanced worker has every
live grant again without storing keys anywhere but in memory. Opened referral
keys never touch disk or Kafka. It also remembers every grant record key it sees
(anyone's), which is what the erasure authority needs to tombstone them all.

A waiter gives up on a grant only when the follower has read everything that was
on the topic a grace period after the wait began (`synced_at`), never on the wall
clock alone: while the broker restarts, the follower reads nothing and a grant
that is there is not yet seen, and giving up then dead-lettered live referrals as
erased (issue 18).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict

from kafka import KafkaConsumer, TopicPartition

from shared import topics
from shared.crypto import KeyStore, MemoryKeyRing, PublicKeys, SealError
from shared.envelope import Headers
from shared.protection import ForgedKeyRecord, accept_grant
from shared.settings import KafkaSettings

log = logging.getLogger("haven.grants")


class GrantFollower:
    def __init__(self, *, owner: str, keys: KeyStore, public_keys: PublicKeys,
                 kafka: KafkaSettings, index_all: bool = False) -> None:
        """`index_all`: keep every referral's grant record keys (intake tombstones them
        at erasure); others keep only what is addressed to them, so their memory does
        not grow with every grant of the network."""
        self.owner = owner
        self._index_all = index_all
        self.ring = MemoryKeyRing()
        self._keys = keys
        self._public_keys = public_keys
        self._kafka = kafka
        self._record_keys: dict[str, set[bytes]] = defaultdict(set)
        # Grants addressed to us that we cannot open (sealed to a key we do not hold):
        # waiting for them would only stall the stream, so waiters give up at once.
        self._refused: set[tuple[str, bytes]] = set()
        self.forged = 0  # key records refused for their signature or headers
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        # Everything published before this moment (time.monotonic) has been read.
        self._synced_at = float("-inf")
        self._thread = threading.Thread(target=self._run, name="grant-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def has(self, referral: str, grant_id: bytes) -> bool:
        return self.ring.get(referral, self.owner, grant_id) is not None

    def _hopeless(self, referral: str, grant_ids: list[bytes]) -> bool:
        return any((referral, g) in self._refused for g in grant_ids)

    @property
    def synced_at(self) -> float:
        """The latest moment (time.monotonic) up to which every grant published was read."""
        return self._synced_at

    def _settled(self, referral: str, grant_ids: list[bytes], *, since: float,
                 grace_s: float, limit: float) -> bool | None:
        """True: all here; False: give up; None: keep waiting."""
        if all(self.has(referral, g) for g in grant_ids):
            return True
        if self._hopeless(referral, grant_ids):
            return False
        now = time.monotonic()
        if self._synced_at >= since + grace_s or now > limit:
            if now > limit:
                log.warning("grant wait gave up unsynced", extra={"referral_id": referral})
            return False
        return None

    def wait_for(self, referral: str, grant_ids: list[bytes], timeout_s: float = 10.0,
                 *, limit_s: float = 900.0) -> bool:
        """Block until every grant is here (events can overtake their grants across topics).

        Gives up when the follower has read everything published `timeout_s` after the
        wait began and the grant was not among it; while the broker is away that moment
        never comes, so the wait goes on, up to `limit_s`.
        """
        since = time.monotonic()
        while (settled := self._settled(referral, grant_ids, since=since, grace_s=timeout_s,
                                        limit=since + limit_s)) is None:
            time.sleep(0.02)
        return settled

    async def await_for(self, referral: str, grant_ids: list[bytes],
                        timeout_s: float = 10.0, *, limit_s: float = 900.0) -> bool:
        """The same, without blocking an event loop (for Faust agents)."""
        since = time.monotonic()
        while (settled := self._settled(referral, grant_ids, since=since, grace_s=timeout_s,
                                        limit=since + limit_s)) is None:
            await asyncio.sleep(0.02)
        return settled

    async def caught_up(self, timeout_s: float = 120.0) -> bool:
        """Wait until the topic has been read up to where it ended at start.

        A consumer that starts handling events before then would wait for grants
        the follower simply has not reached yet, and give up on them as erased.
        """
        deadline = time.monotonic() + timeout_s
        while not self._caught_up.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self._caught_up.is_set()

    def grant_record_keys(self, referral: str) -> list[bytes]:
        """Every live grant record key of a referral, for whoever erases it."""
        if not self._index_all:
            raise RuntimeError("this follower indexes only its own grants (index_all=False)")
        with self._lock:
            return sorted(self._record_keys.get(referral, set()))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
            except Exception as error:  # broker away: start over, from the beginning
                log.warning("grant follower restarting", extra={"reason": type(error).__name__})
                self._stop.wait(2.0)

    def _follow(self) -> None:
        consumer = KafkaConsumer(bootstrap_servers=self._kafka.bootstrap_servers,
                                 enable_auto_commit=False, group_id=None,
                                 client_id=f"haven-grants-{self.owner}")
        try:
            partitions = [TopicPartition(topics.REFERRAL_KEYS.name, p) for p in
                          consumer.partitions_for_topic(topics.REFERRAL_KEYS.name) or []]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            asked_at, ends = time.monotonic(), consumer.end_offsets(partitions)
            while not self._stop.is_set():
                for batch in consumer.poll(timeout_ms=200).values():
                    for message in batch:
                        self._take(message.key or b"", message.value, message.headers or [])
                if all(consumer.position(tp) >= end for tp, end in ends.items()):
                    self._synced_at = max(self._synced_at, asked_at)
                    if not self._caught_up.is_set():
                        self._caught_up.set()
                        log.info("grants caught up", extra={"refused": len(self._refused),
                                                            "forged": self.forged})
                    # where the topic ends now (raises while the broker is away: start over)
                    asked_at, ends = time.monotonic(), consumer.end_offsets(partitions)
        finally:
            consumer.close()

    def _take(self, record_key: bytes, value: bytes | None, headers: Headers) -> None:
        parts = record_key.split(b"/")
        referral = parts[0].decode(errors="replace")
        if len(parts) == 3 and parts[1] == self.owner.encode():
            if not self._take_ours(record_key, value, headers, referral):
                return
        elif not self._index_all:
            return
        # Others' records are only indexed, unverified: the index only tells intake which
        # keys to tombstone at erasure, and checking every record of every reader would
        # make each start read the whole topic at signature speed.
        with self._lock:
            if value is None:
                self._record_keys[referral].discard(record_key)
            else:
                self._record_keys[referral].add(record_key)

    def _take_ours(self, record_key: bytes, value: bytes | None, headers: Headers,
                   referral: str) -> bool:
        try:
            accept_grant(record_key, value, headers, owner=self.owner, keys=self._keys,
                         public_keys=self._public_keys, ring=self.ring)
            return True
        except ForgedKeyRecord as error:  # it neither erases nor plants a key
            self.forged += 1
            self._note_refused(referral, record_key, "key record refused", error.reason)
        except SealError as error:
            self._note_refused(referral, record_key, "grant refused", error.reason)
        return False

    def _note_refused(self, referral: str, record_key: bytes, what: str, reason: str) -> None:
        try:
            self._refused.add((referral, bytes.fromhex(record_key.rsplit(b"/", 1)[-1].decode())))
        except ValueError:
            pass
        # Grants sealed to keys we no longer (or never) held are normal after a rotation
        # and in a shared test broker: counted at catch-up, warned about only afterwards.
        if self._caught_up.is_set():
            log.warning(what, extra={"reason": reason})
