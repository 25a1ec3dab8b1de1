"""`python -m bot doctor` against real servers: every check passes, and a wrong password fails with a fix."""


import pytest

from bot.doctor import run_checks
from tests.helpers import settings_for, start_sink
from tests.slack_mock import SlackMock

pytestmark = pytest.mark.dovecot


async def test_doctor_checks_everything(store, db_url, dovecot, monkeypatch, model):
    mock = SlackMock()
    await mock.start()
    sink, controller = start_sink()
    monkeypatch.setenv("DOC_IMAP_PASSWORD", dovecot.password)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-x")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    try:
        settings = settings_for(db_url, relay={"host": "127.0.0.1", "port": controller.port, "starttls": False},
                                slack={"triage_channel": "C1", "api_base_url": mock.url},
                                imap={"mailboxes": [{"name": "d", "host": "127.0.0.1", "port": dovecot.port,
                                                     "tls": False, "username": dovecot.user,
                                                     "password_env": "DOC_IMAP_PASSWORD"}]})
        checks = {c.name: c for c in await run_checks(settings)}
        assert all(c.ok for c in checks.values()), [c.line() for c in checks.values()]
        assert set(checks) == {"settings", "database", "imap d", "relay", "slack", "model"}
        monkeypatch.setenv("DOC_IMAP_PASSWORD", "wrong")
        bad = {c.name: c for c in await run_checks(settings)}["imap d"]
        assert bad.ok is False and "fix:" in bad.line()
    finally:
        controller.stop()
        await mock.stop()
