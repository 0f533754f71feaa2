"""Key grants belong to the encoding call that made them, whatever other threads do.

A process-wide list of pending grants, filled by one call and drained by another,
once let overlapping requests in intake carry away each other's grants: events that
no reader could ever open, so referrals that were never matched.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.crypto import FileKeyStore, MemoryKeyRing, PublicKeys, grant_ids
from shared.events import MatchingProfile, ReferralSubmitted
from shared.events.vocabulary import ServiceType, Urgency
from shared.grant_follower import GrantFollower
from shared.protection import protected_codec
from shared.recipients import INTAKE, MATCHING, NOTIFIER
from shared.records import OutgoingRecord, RecordCodec
from shared.settings import KafkaSettings

READERS = (INTAKE, MATCHING, NOTIFIER)
ROUNDS = 150


@pytest.fixture(scope="module")
def intake_codec(tmp_path_factory: pytest.TempPathFactory) -> RecordCodec:
    store = FileKeyStore(tmp_path_factory.mktemp("k") / "store")
    for owner in READERS:
        store.rotate(owner)
    public = PublicKeys(store.active(o).public_record() for o in READERS)
    codec, _ = protected_codec(source="/test/intake", owner=INTAKE, keys=store,
                               public_keys=public, ring=MemoryKeyRing(), reuse_grants=False)
    return codec


def _submission() -> ReferralSubmitted:
    return ReferralSubmitted(
        referral_id=uuid.uuid4(), outreach_organization_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        profile=MatchingProfile(needs=[ServiceType.MEDICAL], urgency=Urgency.TONIGHT,
                                age_min=20, age_max=22, region="north"))


def batch_problems(batch: list[OutgoingRecord]) -> list[str]:
    """What is wrong with one encode_all batch: foreign grants, or a reader's grant missing."""
    *grants, event = batch
    referral = event.key.decode()
    carried = {grant.key.decode() for grant in grants}
    problems = [f"foreign grant {key}" for key in carried if not key.startswith(referral)]
    for reader in READERS:
        for grant_id in grant_ids(event.value, reader):
            if f"{referral}/{reader}/{grant_id.hex()}" not in carried:
                problems.append(f"{reader}'s grant missing")
    return problems


def test_threads_encoding_at_once_each_get_exactly_their_own_grants(
        intake_codec: RecordCodec) -> None:
    start = threading.Barrier(2)
    batches: list[list[OutgoingRecord]] = []
    lock = threading.Lock()

    def submit_many() -> None:
        start.wait()
        for _ in range(ROUNDS):
            batch = intake_codec.encode_all(_submission())
            with lock:
                batches.append(batch)

    threads = [threading.Thread(target=submit_many) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(batches) == 2 * ROUNDS
    problems = [problem for batch in batches for problem in batch_problems(batch)]
    assert problems == [], f"{len(problems)} problems, first: {problems[:3]}"


def test_only_intakes_follower_indexes_every_referrals_grants(tmp_path: Path) -> None:
    """Matching and the notifier keep only what is addressed to them: indexing every grant
    of the network made their memory grow with it (issue 18); intake needs the whole index
    to tombstone an erased referral's grants."""
    def follower(index_all: bool) -> GrantFollower:
        return GrantFollower(owner="service:matching", keys=FileKeyStore(tmp_path / "k"),
                             public_keys=PublicKeys([]), kafka=KafkaSettings(),
                             index_all=index_all)

    others = b"11111111-1111-1111-1111-111111111111/service:notifier/ab"
    lean, full = follower(False), follower(True)
    for each in (lean, full):
        each._take(others, b"sealed", [])
    assert full.grant_record_keys("11111111-1111-1111-1111-111111111111") == [others]
    with pytest.raises(RuntimeError):
        lean.grant_record_keys("11111111-1111-1111-1111-111111111111")
    assert not lean._record_keys
