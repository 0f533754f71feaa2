"""The organization's in-app inbox for outreach workers and provider staff: read, mark read.

Messages come from the notifier (`notification.inbox`); they are de-identified, so
the answer carries them as they are, with a link to the page they are about.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.intake.api.deps import InboxReader, NowDep, SessionDep
from services.intake.inbox import handlers
from services.intake.inbox.handlers import Entry

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])


class InboxMessageOut(BaseModel):
    id: uuid.UUID
    referral_id: uuid.UUID
    title: str
    body: str = Field(description="plain text, de-identified by the notifier's templates")
    posted_at: datetime
    read_at: datetime | None = Field(description="when someone of your organization read it")
    link: str | None = Field(description="the page (on this site) the message is about")


def _out(entry: Entry) -> InboxMessageOut:
    message = entry.message
    return InboxMessageOut(id=message.id, referral_id=message.referral_id, title=message.title,
                           body=message.body, posted_at=message.posted_at,
                           read_at=message.read_at, link=entry.link)


@router.get("")
def list_messages(session: SessionDep, caller: InboxReader,
                  unread: Annotated[bool, Query(description="only the unread ones")] = False,
                  ) -> list[InboxMessageOut]:
    """Your organization's messages, newest first (at most 200)."""
    return [_out(entry) for entry in handlers.messages(session=session, principal=caller,
                                                       unread_only=unread)]


@router.post("/{message_id}/read")
def mark_read(message_id: uuid.UUID, session: SessionDep, caller: InboxReader,
              now: NowDep) -> InboxMessageOut:
    """Mark a message read for your whole organization (again: no change)."""
    entry = handlers.mark_read(session=session, principal=caller, message_id=message_id, now=now)
    answer = _out(entry)
    session.commit()
    return answer
