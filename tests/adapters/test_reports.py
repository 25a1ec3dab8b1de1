"""Reports from real cases in the store: CH01, CH02 against the Code, volumes, refusals, the annual report."""

import datetime as dt
import json

from click.testing import CliRunner

from bot import reports
from bot.cli import main
from bot.core.intake import Inbound
from bot.components import build_intake
from bot.service import Services
from tests.helpers import settings_for

UTC = dt.timezone.utc


def at(y, mo, d, h=10):
    return dt.datetime(y, mo, d, h, tzinfo=UTC)


async def seed(services, intake):
    """Four complaints (one answered late, one extended within the Code's cap, one at stage 2), one refusal."""
    refs = []
    for i, day in enumerate([2, 3, 4, 5, 6]):
        r = await intake.take(Inbound(identity=f"r{i}", channel="email" if i % 2 else "slack", source="t",
                                      received_at=at(2026, 3, day), text=f"message {i}", sender=f"r{i}@example.org",
                                      complainant=f"r{i}@example.org"))
        refs.append(r.case_reference)
    a, b, c, d, e = refs
    for ref, day in ((a, 2), (b, 3), (c, 4), (d, 5)):
        await services.decide(ref, "complaint", by="lead", at=at(2026, 3, day, 12))
        await services.transition(ref, "acknowledge", by="bot", at=at(2026, 3, day, 13))
    await services.transition(a, "respond", by="m", outcome="upheld", at=at(2026, 3, 10))          # on time
    await services.transition(b, "respond", by="m", outcome="not_upheld", at=at(2026, 4, 30))      # late
    await services.transition(c, "extend", by="m", days=8, reason="surveyor", at=at(2026, 3, 10))
    await services.transition(c, "respond", by="m", outcome="partly_upheld", at=at(2026, 3, 27))  # within extension
    await services.transition(a, "request_escalation", by="resident", at=at(2026, 3, 16))
    await services.decide(e, "excluded", reason="legal_proceedings", by="lead", at=at(2026, 3, 6, 12))
    return refs


async def test_tsm_and_volumes(store, db_url, tmp_path):
    engine, factory = store
    services = Services(factory)
    intake = build_intake(settings_for(db_url), services)
    await seed(services, intake)
    data = await reports.build(factory, dt.date(2026, 3, 1), dt.date(2026, 5, 31), 2000, None)
    tsm = data["tsm"]
    assert tsm["stage1_received"] == 4 and tsm["CH01_stage1_per_1000_homes"] == 2.0
    assert tsm["stage2_received"] == 1 and tsm["CH01_stage2_per_1000_homes"] == 0.5
    assert (tsm["stage1_answered"], tsm["stage1_answered_on_time"]) == (3, 2)
    assert tsm["CH02_stage1_within_code_timescales"] == round(2 / 3, 3)
    assert data["volumes"]["excluded_by_reason"] == {"legal_proceedings": 1}
    assert data["volumes"]["by_channel"] == {"slack": 3, "email": 2}
    assert data["timeliness"]["stage1"]["extension_reasons"] == {"surveyor": 1}
    assert data["timeliness"]["stage1"]["median_working_days_to_acknowledge"] == 0.0

    cfg = tmp_path / "bot.toml"
    cfg.write_text(f'[database]\nurl = "{db_url}"\n[bot]\nhomes = 2000\n')
    import asyncio
    out = tmp_path / "annual.md"
    result = await asyncio.to_thread(CliRunner().invoke, main, [
        "--config", str(cfg), "report", "--from", "2026-03-01", "--to", "2026-05-31", "--format", "json",
        "--chart", str(tmp_path / "c.png"), "--annual", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[:result.output.rindex("}") + 1])["tsm"]["stage1_received"] == 4
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    text = out.read_text()
    assert "CH01" in text and "legal proceedings" in text and "67%" in text
