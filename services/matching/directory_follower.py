"""Every matching worker's own copy of the directory, read from the compacted topics.

This is what a Faust GlobalTable would be, written out: a consumer without a group
reads all partitions of directory.organizations, directory.services and
capacity.updates from the beginning and keeps following. A GlobalTable keeps only
key and value, and our records are only trustworthy with their headers (the
signature covers them), so each record is verified here before it counts.
Records that do not verify are skipped and logged (their dead letter is written
once, by the capacity agent's group consumer, not once per worker per replay).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import datetime

from kafka import KafkaConsumer, TopicPartition

from services.matching.ranking import Candidate, Network
from shared.crypto import PublicKeys
from shared.directory_view import DIRECTORY_TOPICS, DirectoryView
from shared.events import OrganizationUpserted
from shared.records import IncomingRecord, RecordCodec, RejectedRecord
from shared.settings import KafkaSettings

log = logging.getLogger("haven.matching.directory")


class DirectoryFollower:
    def __init__(self, *, codec: RecordCodec, kafka: KafkaSettings,
                 public_keys: PublicKeys | None = None) -> None:
        self._codec = codec
        self._public_keys = public_keys
        self._kafka = kafka
        self._view = DirectoryView()
        self._lock = threading.Lock()
        self._network: Network | None = None
        self._caught_up = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="directory-follower",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    async def caught_up(self, timeout_s: float = 60.0) -> bool:
        """Wait until everything published before the start has been read."""
        deadline = time.monotonic() + timeout_s
        while not self._caught_up.is_set():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def network(self) -> Network:
        """The services with their latest capacity, grouped for ranking (cached until a change)."""
        with self._lock:
            if self._network is None:
                self._network = Network(
                    Candidate(service, self._view.capacity.get(key))
                    for key, service in self._view.services.items())
            return self._network

    def confirmed_at(self, service_id: str) -> datetime | None:
        with self._lock:
            capacity = self._view.capacity.get(service_id)
            return capacity.confirmed_at if capacity else None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
            except Exception as error:  # broker away: start over, from the beginning
                log.warning("directory follower restarting",
                            extra={"reason": type(error).__name__})
                self._stop.wait(2.0)

    def _follow(self) -> None:
        consumer = KafkaConsumer(bootstrap_servers=self._kafka.bootstrap_servers,
                                 enable_auto_commit=False, group_id=None,
                                 client_id="haven-matching-directory")
        try:
            partitions = [TopicPartition(spec.name, p) for spec in DIRECTORY_TOPICS
                          for p in consumer.partitions_for_topic(spec.name) or []]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            ends = {tp: end for tp, end in consumer.end_offsets(partitions).items() if end}
            while not self._stop.is_set():
                for tp, batch in consumer.poll(timeout_ms=200).items():
                    for message in batch:
                        self._take(IncomingRecord(
                            topic=message.topic, partition=message.partition,
                            offset=message.offset, key=message.key, value=message.value,
                            headers=list(message.headers or [])))
                    if tp in ends and consumer.position(tp) >= ends[tp]:
                        del ends[tp]
                if not ends:
                    self._caught_up.set()
        finally:
            consumer.close()

    def _take(self, record: IncomingRecord) -> None:
        key = (record.key or b"").decode(errors="replace")
        if record.value is None:
            with self._lock:
                self._view.forget(record.topic, key)
                self._network = None
            return
        try:
            event = self._codec.decode(record).event
        except RejectedRecord as rejection:
            log.warning("directory record skipped", extra={"topic": record.topic,
                                                           "reason": rejection.reason})
            return
        with self._lock:
            if self._view.apply(event):
                self._network = None
        if isinstance(event, OrganizationUpserted) and self._public_keys is not None:
            owner = f"org:{event.organization_id}"
            for published in event.public_keys:  # offers can now be sealed to this org
                if published.owner == owner:  # never a key that claims to be someone else
                    self._public_keys.add(published)
