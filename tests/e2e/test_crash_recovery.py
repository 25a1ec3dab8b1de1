"""End to end: `python -m bot run` reading a real Dovecot backlog is killed with SIGKILL mid-way, restarted,
and every message is recorded exactly once, with one receipt letter each."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlalchemy import create_engine, text

from tests.helpers import append_backlog

pytestmark = pytest.mark.dovecot
ROOT = Path(__file__).resolve().parents[2]
N = 300


def write_config(tmp_path: Path, dovecot, folder: str) -> Path:
    cfg = tmp_path / "bot.toml"
    cfg.write_text(f"""
[bot]
data_dir = "{tmp_path / 'data'}"
[smtp]
port = 0
[[imap.mailboxes]]
name = "crash"
host = "127.0.0.1"
port = {dovecot.port}
tls = false
username = "{dovecot.user}"
password_env = "CRASH_IMAP_PASSWORD"
folder = "{folder}"
processed_folder = "{folder}-done"
quarantine_folder = "{folder}-quarantine"
""")
    return cfg


def start_bot(cfg: Path, dovecot, log: Path) -> subprocess.Popen:
    env = {**os.environ, "CRASH_IMAP_PASSWORD": dovecot.password, "BOT_CONFIG": str(cfg)}
    with log.open("ab") as err:
        return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)


def counts(db: Path) -> tuple[int, int, int, int]:
    if not db.exists():
        return (0, 0, 0, 0)
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            def one(sql: str) -> int:
                try:
                    return conn.execute(text(sql)).scalar_one()
                except Exception:  # noqa: BLE001 - schema not created yet
                    return 0
            return (one("SELECT count(*) FROM inbound_messages"), one("SELECT count(DISTINCT identity) FROM inbound_messages"),
                    one("SELECT count(*) FROM cases"), one("SELECT count(*) FROM outbox WHERE kind = 'receipt'"))
    finally:
        engine.dispose()


def test_sigkill_mid_backlog_then_restart_records_every_message_once(dovecot, tmp_path):
    folder = f"Crash{os.getpid()}"
    append_backlog(dovecot, folder, N, "crash")
    cfg = write_config(tmp_path, dovecot, folder)
    db = tmp_path / "data" / "complaints.db"
    log = tmp_path / "bot.log"

    bot = start_bot(cfg, dovecot, log)
    deadline = time.monotonic() + 60
    while counts(db)[0] < N // 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    bot.send_signal(signal.SIGKILL)
    bot.wait(10)
    taken_before = counts(db)[0]
    assert 0 < taken_before < N, f"kill landed outside the backlog ({taken_before} of {N})"

    bot = start_bot(cfg, dovecot, log)
    try:
        deadline = time.monotonic() + 120
        while counts(db)[0] < N and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # anything extra would show up now
        with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False) as c:
            c.login(dovecot.user, dovecot.password)
            left = c.select_folder(folder, readonly=True)[b"EXISTS"]
            done = c.select_folder(f"{folder}-done", readonly=True)[b"EXISTS"]
    finally:
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(30) == 0, log.read_text()[-2000:]
    messages, distinct, cases, receipts = counts(db)
    assert (messages, distinct, cases, receipts) == (N, N, N, N), log.read_text()[-2000:]
    assert (left, done) == (0, N), log.read_text()[-3000:]
    assert "stopped cleanly" in log.read_text()
