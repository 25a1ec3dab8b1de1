"""`python -m bot quarantine retry ID` on SQLite: a message that now goes through is released with its case,
one that still fails stays held (one row, attempts counted), and a Slack message kept as JSON is retried as
a Slack message."""

import asyncio
import datetime as dt

from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.components import build_intake
from bot.core.intake import Inbound
from bot.service import Services
from storage import models as m
from storage.db import make_engine, migrate, sessions
from tests.helpers import email_bytes, settings_for


def test_quarantine_retry(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'q.db'}"
    cfg = tmp_path / "bot.toml"
    cfg.write_text(f'[database]\nurl = "{url}"\n[classifier]\nmodel_dir = "{tmp_path / "no-model"}"\n')

    async def setup() -> dict[str, int]:
        engine = make_engine(url)
        await migrate(engine)
        factory = sessions(engine)
        intake = build_intake(settings_for(url), Services(factory))
        no_sender = await intake.take_email(b"To: complaints@localhost\r\nSubject: x\r\n\r\nhello\r\n", "smtp")
        slack_bad = await intake.take(Inbound(identity="slack:C1:9.1", channel="slack", source="slack:C1",
                                              received_at=dt.datetime.now(dt.timezone.utc), text="boiler \ud800",
                                              sender="U1", sender_name="Staff"))
        async with factory.begin() as s:  # held after, say, a database problem that has since been fixed
            good = m.Quarantine(source="smtp", identity="<fixed@example.org>", reason="earlier failure",
                                raw=email_bytes(message_id="<fixed@example.org>"))
            s.add(good)
        await engine.dispose()
        return {"no_sender": no_sender.message_row, "slack": slack_bad.message_row, "good": good.id}
    ids = asyncio.run(setup())

    def retry(qid: int) -> str:
        result = CliRunner().invoke(main, ["--config", str(cfg), "quarantine", "retry", str(qid)])
        assert result.exit_code == 0, result.output
        return result.output
    assert "new_case CMP-" in retry(ids["good"])
    assert "still cannot be taken in" in retry(ids["no_sender"])
    assert "still cannot be taken in" in retry(ids["slack"])

    async def rows() -> dict[int, m.Quarantine]:
        engine = make_engine(url)
        async with sessions(engine)() as s:
            out = {q.id: q for q in (await s.execute(select(m.Quarantine))).scalars()}
        await engine.dispose()
        return out
    held = asyncio.run(rows())
    assert len(held) == 3
    assert held[ids["good"]].status == "released"
    assert (held[ids["no_sender"]].status, held[ids["no_sender"]].attempts) == ("held", 2)
    assert (held[ids["slack"]].status, held[ids["slack"]].attempts) == ("held", 2)
