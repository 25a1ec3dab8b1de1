"""Rows <-> core objects. Data access only: the caller owns the session and the transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Sequence

from sqlalchemy import Select, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot import policies
from bot.core.clocks import Extension, Pause, StageClock
from bot.core.errors import NotFound
from bot.core.lifecycle import Case as DomainCase
from bot.core.lifecycle import Event as DomainEvent

from . import models as m

REFERENCE_PREFIX = "CMP"


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes: everything is stored in UTC, so mark it so."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def format_reference(year: int, number: int) -> str:
    return f"{REFERENCE_PREFIX}-{year}-{number:05d}"


@dataclass
class CaseRecord:
    """A case row with its domain object: change the domain object, then `Repository.save`."""

    row: m.Case
    case: DomainCase


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.bind.dialect.name if self.session.bind else "sqlite"

    # -- references --------------------------------------------------------------------------------
    async def next_reference(self, year: int) -> str:
        """The next CMP-YYYY-NNNNN."""
        return (await self.reserve_references(year, 1))[0]

    async def reserve_references(self, year: int, count: int) -> list[str]:
        """`count` consecutive references in one atomic upsert: concurrent writers on PostgreSQL wait on the
        counter row's lock, so two workers never issue the same number."""
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = insert(m.ReferenceCounter).values(year=year, value=count)
        stmt = stmt.on_conflict_do_update(index_elements=[m.ReferenceCounter.year],
                                          set_={"value": m.ReferenceCounter.value + count})
        last = (await self.session.execute(stmt.returning(m.ReferenceCounter.value))).scalar_one()
        return [format_reference(year, n) for n in range(last - count + 1, last + 1)]

    # -- messages ----------------------------------------------------------------------------------
    async def identities_present(self, identities: Sequence[str]) -> set[str]:
        """Which of these message identities are already recorded (one query for a whole batch)."""
        if not identities:
            return set()
        return set((await self.session.execute(select(m.InboundMessage.identity).where(
            m.InboundMessage.identity.in_(list(identities))))).scalars())

    async def message_by_identity(self, identity: str) -> m.InboundMessage | None:
        return (await self.session.execute(
            select(m.InboundMessage).where(m.InboundMessage.identity == identity))).scalar_one_or_none()

    async def add_message(self, flush: bool = True, **fields: Any) -> m.InboundMessage:
        row = m.InboundMessage(**fields)
        self.session.add(row)
        if flush:
            await self.session.flush()
        return row

    async def case_for_message_ids(self, message_ids: Sequence[str]) -> m.Case | None:
        """The case a message belongs to by its References / In-Reply-To (ours or the resident's)."""
        ids = [i for i in message_ids if i]
        if not ids:
            return None
        case_id = (await self.session.execute(
            select(m.InboundMessage.case_id).where(m.InboundMessage.identity.in_(ids),
                                                   m.InboundMessage.case_id.is_not(None)).limit(1))).scalar()
        if case_id is None:
            case_id = (await self.session.execute(
                select(m.Outbox.case_id).where(m.Outbox.message_id.in_(ids), m.Outbox.case_id.is_not(None))
                .limit(1))).scalar()
        return None if case_id is None else await self.session.get(m.Case, case_id)

    # -- cases -------------------------------------------------------------------------------------
    def _case_query(self) -> Select[tuple[m.Case]]:
        return select(m.Case).options(selectinload(m.Case.clocks))

    async def get(self, reference: str, for_update: bool = False) -> CaseRecord:
        query = self._case_query().where(m.Case.reference == reference.upper().strip())
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update(of=m.Case)
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no case {reference!r}")
        return CaseRecord(row, to_domain(row))

    async def get_by_id(self, case_id: int) -> CaseRecord:
        row = (await self.session.execute(self._case_query().where(m.Case.id == case_id))).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no case with id {case_id}")
        return CaseRecord(row, to_domain(row))

    async def save(self, record: CaseRecord, events: Sequence[DomainEvent] = ()) -> None:
        """Write the domain object back to its row, its clocks, and append its events."""
        row, case = record.row, record.case
        for name, value in case_values(case).items():
            setattr(row, name, value)
        by_stage = {c.stage: c for c in row.clocks}
        today = case.calendar.local(dt.datetime.now(dt.timezone.utc)).date()
        for stage, clock in case.clocks.items():
            crow = by_stage.get(stage)
            if crow is None:
                crow = m.Clock(stage=stage, start=clock.start)
                row.clocks.append(crow)
            for name, value in clock_values(case, clock, today).items():
                setattr(crow, name, value)
        for event in events:  # a new case's events go in with it at the next flush, through the relationship
            link = {"case_id": row.id} if row.id is not None else {"case": row}
            self.session.add(m.Event(**link, **event_values(event)))

    async def insert_cases(self, new: Sequence["NewCase"]) -> dict[str, int]:
        """Many new cases, with their clocks, events, first message and letters, in one statement per table.

        The ORM inserts row by row on SQLite (it cannot batch an INSERT whose generated ids it must read
        back in order), which cost 1.5 ms a message on a backlog. Here each table gets one executemany and
        the case ids are read back by their (unique) reference. Returns reference -> case id."""
        if not new:
            return {}
        moment = dt.datetime.now(dt.timezone.utc)
        cases = [{**n.fields, "reference": n.case.reference, "policy": n.case.policy.id,
                  "received_at": n.case.received_at, **case_values(n.case)} for n in new]
        await self._insert_many(m.Case, cases)
        refs = [n.case.reference for n in new]
        ids = dict((await self.session.execute(
            select(m.Case.reference, m.Case.id).where(m.Case.reference.in_(refs)))).all())
        clocks, events, messages, letters = [], [], [], []
        for n in new:
            case_id = ids[n.case.reference]
            day = n.case.calendar.local(moment).date()
            clocks += [{"case_id": case_id, "stage": stage, **clock_values(n.case, clock, day)}
                       for stage, clock in n.case.clocks.items()]
            events += [{"case_id": case_id, **event_values(e)} for e in n.events]
            if n.message is not None:
                messages.append({**n.message, "case_id": case_id})
            letters += [{**letter, "case_id": case_id} for letter in n.letters]
        for model, rows in ((m.Clock, clocks), (m.Event, events), (m.InboundMessage, messages),
                            (m.Outbox, letters)):
            await self._insert_many(model, rows)
        return ids

    async def _insert_many(self, model: type[m.Base], rows: list[dict[str, Any]]) -> None:
        """executemany needs one set of columns per statement: rows are grouped by the columns they set."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(sorted(row)), []).append(row)
        for group in groups.values():
            await self.session.execute(insert(model.__table__), group)

    async def list_cases(self, status: str | None = None, due_by: dt.date | None = None,
                         limit: int = 500) -> list[m.Case]:
        query = self._case_query().order_by(m.Case.received_at)
        if status:
            query = query.where(m.Case.status == status)
        if due_by is not None:
            query = query.where(m.Case.next_due.is_not(None), m.Case.next_due <= due_by)
        return list((await self.session.execute(query.limit(limit))).scalars())

    async def events(self, case_id: int) -> list[m.Event]:
        return list((await self.session.execute(
            select(m.Event).where(m.Event.case_id == case_id).order_by(m.Event.id))).scalars())

    async def messages(self, case_id: int) -> list[m.InboundMessage]:
        return list((await self.session.execute(
            select(m.InboundMessage).where(m.InboundMessage.case_id == case_id).order_by(m.InboundMessage.id)))
            .scalars())


def next_due(case: DomainCase) -> dt.date | None:
    """The earliest deadline still to be met on the open stage (acknowledge, then respond)."""
    clock = case.clock
    if clock is None or clock.stopped_on is not None or case.status not in (
            "complaint", "escalation_requested", "acknowledged"):
        return None
    due = clock.deadlines(case.policy, case.calendar)
    if clock.acknowledged_on is None and due.get("acknowledge"):
        return due["acknowledge"]
    return due.get("respond")


CASE_FIELDS = ("stage", "status", "suggested_label", "suggested_reason", "confirmed_label", "confirmed_reason",
               "decided_by", "outcome", "responded_on", "closed_on", "representative", "representative_consent",
               "escalation_flagged", "region")


def case_values(case: DomainCase) -> dict[str, Any]:
    """The case row's columns that the domain object owns."""
    return {**{name: getattr(case, name) for name in CASE_FIELDS}, "next_due": next_due(case)}


def clock_values(case: DomainCase, clock: StageClock, today: dt.date) -> dict[str, Any]:
    """A clock row's columns: the clock itself and the deadlines and breaches it gives under the policy."""
    due = clock.deadlines(case.policy, case.calendar, case.representative)
    return {
        "start": clock.start, "acknowledged_on": clock.acknowledged_on, "responded_on": clock.responded_on,
        "stopped_on": clock.stopped_on,
        "extensions": [{"days": e.days, "reason": e.reason, "on": e.on.isoformat()} for e in clock.extensions],
        "pauses": [{"reason": p.reason, "start": p.start.isoformat(), "end": p.end.isoformat() if p.end else None}
                   for p in clock.pauses],
        "deadlines": {k: (v.isoformat() if v else None) for k, v in due.items()},
        "breached": clock.breaches(case.policy, case.calendar, today)}


def event_values(event: DomainEvent) -> dict[str, Any]:
    return {"kind": event.kind, "at": event.at, "actor": event.actor, "channel": event.channel,
            "data": _jsonable(event.data)}


@dataclass
class NewCase:
    """A case not yet written, with what goes in with it (see Repository.insert_cases)."""

    case: DomainCase
    events: Sequence[DomainEvent]
    fields: dict[str, Any]                      # the row's other columns: channel, subject, resident ...
    message: dict[str, Any] | None = None       # its first inbound message (columns, without case_id)
    letters: list[dict[str, Any]] = field(default_factory=list)  # outbox rows, without case_id


def to_domain(row: m.Case) -> DomainCase:
    policy = policies.load(row.policy)
    clocks = {}
    for c in row.clocks:
        clocks[c.stage] = StageClock(
            stage=c.stage, start=c.start, acknowledged_on=c.acknowledged_on, responded_on=c.responded_on,
            stopped_on=c.stopped_on,
            extensions=tuple(Extension(e["days"], e["reason"], dt.date.fromisoformat(e["on"])) for e in c.extensions),
            pauses=tuple(Pause(p["reason"], dt.date.fromisoformat(p["start"]),
                               dt.date.fromisoformat(p["end"]) if p["end"] else None) for p in c.pauses))
    return DomainCase(
        reference=row.reference, policy=policy, received_at=aware(row.received_at), status=row.status,
        stage=row.stage, suggested_label=row.suggested_label, suggested_reason=row.suggested_reason,
        confirmed_label=row.confirmed_label, confirmed_reason=row.confirmed_reason, decided_by=row.decided_by,
        outcome=row.outcome, responded_on=row.responded_on, closed_on=row.closed_on,
        representative=row.representative, representative_consent=row.representative_consent,
        escalation_flagged=row.escalation_flagged, clocks=clocks, region=row.region)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
