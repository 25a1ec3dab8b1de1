"""ORM tables. Typed `Mapped[]` columns; relationships are `lazy="raise"` so hidden queries fail loudly."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary,
                        String, Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship



def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[Any]: JSON}


class ReferenceCounter(Base):
    """One row per year: the last case number issued (CMP-YYYY-NNNNN)."""

    __tablename__ = "reference_counters"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    policy: Mapped[str] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(3))
    stage: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[dt.datetime]
    subject: Mapped[str | None] = mapped_column(Text)
    resident_name: Mapped[str | None] = mapped_column(Text)
    resident_email: Mapped[str | None] = mapped_column(String(320), index=True)
    resident_contact: Mapped[str | None] = mapped_column(Text)
    resident_address: Mapped[str | None] = mapped_column(Text)
    passed_on_by: Mapped[str | None] = mapped_column(Text)
    representative: Mapped[str | None] = mapped_column(String(16))
    representative_name: Mapped[str | None] = mapped_column(Text)
    representative_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    suggested_label: Mapped[str | None] = mapped_column(String(32))
    suggested_reason: Mapped[str | None] = mapped_column(String(32))
    suggestion: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    confirmed_label: Mapped[str | None] = mapped_column(String(32))
    confirmed_reason: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(32))
    responded_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    escalation_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent_hazard: Mapped[str | None] = mapped_column(String(32))
    next_due: Mapped[dt.date | None] = mapped_column(Date, index=True)  # earliest unmet deadline, for queries
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    anonymised_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    clocks: Mapped[list["Clock"]] = relationship(back_populates="case", lazy="raise", order_by="Clock.stage",
                                                 cascade="all, delete-orphan")
    events: Mapped[list["Event"]] = relationship(back_populates="case", lazy="raise", order_by="Event.id")
    messages: Mapped[list["InboundMessage"]] = relationship(back_populates="case", lazy="raise",
                                                            order_by="InboundMessage.id")


class Clock(Base):
    """The facts of one stage's clock (see bot.core.clocks.StageClock) and its derived dates for queries."""

    __tablename__ = "clocks"
    __table_args__ = (UniqueConstraint("case_id", "stage"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    stage: Mapped[int] = mapped_column(Integer)
    start: Mapped[dt.date] = mapped_column(Date)
    acknowledged_on: Mapped[dt.date | None] = mapped_column(Date)
    responded_on: Mapped[dt.date | None] = mapped_column(Date)
    stopped_on: Mapped[dt.date | None] = mapped_column(Date)
    extensions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    pauses: Mapped[list[Any]] = mapped_column(JSON, default=list)
    deadlines: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    breached: Mapped[list[Any]] = mapped_column(JSON, default=list)
    case: Mapped[Case] = relationship(back_populates="clocks", lazy="raise")


class Event(Base):
    """Append-only history: who did what, when, from which channel."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    case: Mapped[Case] = relationship(back_populates="events", lazy="raise")


class InboundMessage(Base):
    """Every message taken in, kept raw, whatever became of it."""

    __tablename__ = "inbound_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str] = mapped_column(String(255), unique=True)  # Message-ID, hash, or slack event key
    channel: Mapped[str] = mapped_column(String(16))  # email | slack
    source: Mapped[str] = mapped_column(String(255))  # smtp | imap:<mailbox> | slack:<channel> | cli
    sender: Mapped[str | None] = mapped_column(Text)
    reply_to: Mapped[str | None] = mapped_column(Text)
    complainant: Mapped[str | None] = mapped_column(Text)
    forwarded_by: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime]
    text: Mapped[str | None] = mapped_column(Text)
    quoted: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attachments: Mapped[list[Any] | None] = mapped_column(JSON)
    auto_reply: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32), default="new_case")  # new_case | correspondence | auto_reply | note
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    case: Mapped[Case | None] = relationship(back_populates="messages", lazy="raise")


Index("ix_inbound_messages_sender", InboundMessage.sender)


class Outbox(Base):
    """Letters written in the same transaction as the change that causes them; a sender drains it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # receipt | decision | ...
    to_addr: Mapped[str] = mapped_column(String(320), index=True)
    to_name: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    references: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|sent|failed|suppressed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    case: Mapped[Case | None] = relationship(lazy="raise")


class Quarantine(Base):
    """Input that could not be parsed or stored: kept raw with the reason, for a person to look at."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(255))
    identity: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="held")  # held | retried | released
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MailboxState(Base):
    """Where the IMAP reader got to in each mailbox: (UIDVALIDITY, last UID)."""

    __tablename__ = "mailbox_state"
    mailbox: Mapped[str] = mapped_column(String(255), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SlackEvent(Base):
    """Slack event ids already taken in: Slack retries unacknowledged events, we record each once."""

    __tablename__ = "slack_events"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Lease(Base):
    """A named lease (a mailbox poller, a scheduled job) held by one worker until it expires."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime]


class JobRun(Base):
    """A scheduled job's run for one period (a day, a week): the unique key makes it run once."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(255))
    ran_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
