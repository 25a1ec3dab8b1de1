"""Two outbox senders draining one outbox at the same time (as two workers do): every letter goes out once."""

import asyncio
import collections
import datetime as dt

from sqlalchemy import func, select

from bot.mail.sender import OutboxSender, Relay
from storage import models as m
from storage.db import make_engine, sessions
from tests.helpers import start_sink


async def test_two_senders_send_each_letter_once(store, db_url):
    engine, factory = store
    async with factory.begin() as s:
        case = m.Case(reference="CMP-2026-00001", policy="hos-code-2024", status="received", channel="email",
                      received_at=dt.datetime.now(dt.timezone.utc))
        s.add(case)
        for i in range(60):
            s.add(m.Outbox(case=case, kind="receipt", to_addr=f"r{i}@example.org", subject=f"letter {i}",
                           body_text="hello", message_id=f"<letter-{i}@localhost>"))
    sink, controller = start_sink()
    second = make_engine(db_url)
    try:
        senders = [OutboxSender(f, Relay("127.0.0.1", controller.port, starttls=False), "complaints@localhost",
                                "Complaints Team", batch=5) for f in (factory, sessions(second))]
        sent = await asyncio.gather(*(s.drain_once() for s in senders))
        assert sum(sent) == 60
        ids = collections.Counter(msg["Message-ID"] for _, _, msg in sink.received)
        assert len(ids) == 60 and max(ids.values()) == 1
        async with factory() as s:
            assert (await s.execute(select(func.count()).select_from(m.Outbox).where(m.Outbox.status == "sent"))
                    ).scalar_one() == 60
    finally:
        controller.stop()
        await second.dispose()
