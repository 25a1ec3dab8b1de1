"""The case store on SQLite and on a real PostgreSQL server: schema, cases, clocks, history, references."""

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from bot import policies
from bot.core.errors import NotFound, TransitionError
from bot.service import Services
from storage import models as m
from storage.db import current_revision, head_revision, make_engine, migrate, sessions, unit_of_work
from storage.repository import Repository

UTC = dt.timezone.utc
CODE = policies.load("hos-code-2024")


async def open_one(services: Services, when=dt.datetime(2026, 3, 2, 10, tzinfo=UTC), policy=CODE, **extra) -> str:
    async with unit_of_work(services.sessions) as session:
        repo = Repository(session)
        record = await services.open_case(repo, policy=policy, channel="email", received_at=when,
                                          resident_email="resident@example.org", subject="Leak", **extra)
        return record.row.reference


async def test_schema_is_at_head_and_migrating_again_is_harmless(store):
    engine, _ = store
    assert await current_revision(engine) == head_revision()
    assert await migrate(engine) == head_revision()


async def test_case_lifecycle_is_stored_with_clocks_and_history(store):
    _, factory = store
    services = Services(factory)
    ref = await open_one(services)
    assert ref == "CMP-2026-00001"
    out = await services.decide(ref, "complaint", by="Amira Shah")
    assert out["status"] == "complaint"
    assert out["deadlines"] == {"acknowledge": "2026-03-09", "respond": "2026-03-23"}
    await services.transition(ref, "acknowledge", by="bot", at=dt.datetime(2026, 3, 4, 9, tzinfo=UTC))
    await services.transition(ref, "extend", by="Amira Shah", days=5, reason="surveyor's report",
                              at=dt.datetime(2026, 3, 10, 9, tzinfo=UTC))
    shown = await services.show(ref)
    assert shown["deadlines"]["respond"] == "2026-03-25"
    assert [e["kind"] for e in shown["history"]] == ["received", "decided", "acknowledged", "extended"]
    assert shown["history"][1]["actor"] == "Amira Shah"
    with pytest.raises(TransitionError):
        await services.transition(ref, "acknowledge", by="bot")
    # the refused transition wrote nothing
    assert [e["kind"] for e in (await services.show(ref))["history"]][-1] == "extended"
    with pytest.raises(NotFound):
        await services.show("CMP-2026-99999")


async def test_list_by_status_and_due_within(store):
    _, factory = store
    services = Services(factory)
    a = await open_one(services)
    b = await open_one(services)
    await services.decide(a, "complaint", by="lead")
    await services.decide(b, "excluded", reason="neighbour_dispute", by="lead")
    assert [c["reference"] for c in await services.list_cases(status="complaint")] == [a]
    due = await services.list_cases(due_within=3, today=dt.date(2026, 3, 4))
    assert [c["reference"] for c in due] == [a]  # acknowledgement due 9 March, within 3 working days
    assert await services.list_cases(due_within=1, today=dt.date(2026, 3, 2)) == []


async def test_references_are_unique_under_concurrent_writers(db_url):
    """Two engines (as two workers would have) open 40 cases at once: 40 distinct references."""
    engines = [make_engine(db_url), make_engine(db_url)]
    await migrate(engines[0])
    services = [Services(sessions(e)) for e in engines]
    refs = await asyncio.gather(*(open_one(services[i % 2]) for i in range(40)))
    assert len(set(refs)) == 40
    assert sorted(refs) == [f"CMP-2026-{n:05d}" for n in range(1, 41)]
    for e in engines:
        await e.dispose()


async def test_reference_counter_restarts_each_year(store):
    _, factory = store
    services = Services(factory)
    assert await open_one(services, when=dt.datetime(2025, 12, 31, 23, 30, tzinfo=UTC)) == "CMP-2025-00001"
    # 23:30 UTC on 31 December is still 2025 in London; an hour later it is 2026
    assert await open_one(services, when=dt.datetime(2026, 1, 1, 0, 30, tzinfo=UTC)) == "CMP-2026-00001"


async def test_events_are_append_only_rows(store):
    _, factory = store
    services = Services(factory)
    ref = await open_one(services)
    await services.decide(ref, "service_request", by="lead")
    await services.decide(ref, "complaint", by="lead 2")
    async with factory() as session:
        kinds = (await session.execute(select(m.Event.kind, m.Event.actor).order_by(m.Event.id))).all()
    assert kinds == [("received", "bot"), ("decided", "lead"), ("decided", "lead 2")]
