"""Mail-path numbers for the README, against a real Dovecot on loopback:

1. backlog drain: N messages waiting in Dovecot, `python -m bot run` (a subprocess, SQLite) from start to every
   case committed and every receipt queued; beside it, in the same run, the two ceilings: imapclient alone
   fetching those messages, and the classifier alone reading their text; and the worker's peak memory.
2. latency with IDLE: APPEND to case committed, one message at a time, p50 and p95;
3. the SMTP listener: messages accepted and stored per second over one connection.

    .venv/bin/python bench/mail.py [--messages 5000] [--latency 200] [--smtp 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imapclient import IMAPClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from classifiers.train import load_records  # noqa: E402
from tests.helpers import email_bytes  # noqa: E402
from tests.servers import start_dovecot  # noqa: E402


def corpus(n: int) -> list[bytes]:
    records = load_records()
    out = []
    for i in range(n):
        r = records[i % len(records)]
        out.append(email_bytes(sender=f"resident{i}@example.org", name=f"Resident {i}",
                               subject=(r.get("subject") or "Message")[:120], body=r["body"],
                               message_id=f"<bench-{i}@example.org>"))
    return out


def imap(dovecot) -> IMAPClient:
    c = IMAPClient("127.0.0.1", port=dovecot.port, ssl=False)
    c.login(dovecot.user, dovecot.password)
    return c


def fill(dovecot, folder: str, messages: list[bytes]) -> None:
    with imap(dovecot) as c:
        if not c.folder_exists(folder):
            c.create_folder(folder)
        for raw in messages:
            c.append(folder, raw)


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            try:
                return conn.execute(text(sql)).scalar_one()
            except Exception:  # noqa: BLE001 - schema not there yet
                return 0
    finally:
        engine.dispose()


def drain(dovecot, messages: list[bytes]) -> None:
    n = len(messages)
    folder = f"Bench{os.getpid()}"
    t0 = time.perf_counter()
    fill(dovecot, folder, messages)
    print(f"backlog: appended {n} messages to Dovecot in {time.perf_counter() - t0:.1f} s")

    with imap(dovecot) as c:  # ceiling 1: imapclient alone
        c.select_folder(folder, readonly=True)
        uids = c.search(["ALL"])
        t0 = time.perf_counter()
        fetched = 0
        for i in range(0, len(uids), 200):
            fetched += len(c.fetch(uids[i:i + 200], ["BODY.PEEK[]", "INTERNALDATE"]))
        imap_rate = fetched / (time.perf_counter() - t0)

    from bot.mail.parse import parse_email  # ceiling 2: the classifier alone on their text
    from classifiers.runtime import Message, TriageModel
    model = TriageModel.load(ROOT / "classifiers" / "model")
    texts = [parse_email(raw) for raw in messages]
    batch = [Message(p.text, p.subject, "email", p.sender.email, p.received_at) for p in texts]
    t0 = time.perf_counter()
    model.classify(batch, "hos-code-2024")
    classify_rate = n / (time.perf_counter() - t0)

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    cfg = tmp / "bot.toml"
    cfg.write_text(f"""[bot]\ndata_dir = "{tmp / 'data'}"\n[smtp]\nenabled = false\n[[imap.mailboxes]]
name = "bench"\nhost = "127.0.0.1"\nport = {dovecot.port}\ntls = false\nusername = "{dovecot.user}"
password_env = "BENCH_IMAP_PASSWORD"\nfolder = "{folder}"\nprocessed_folder = "{folder}-done"\n""")
    db = tmp / "data" / "complaints.db"
    env = {**os.environ, "BENCH_IMAP_PASSWORD": dovecot.password, "BOT_CONFIG": str(cfg)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    first = None
    while True:
        done = count(db, "SELECT count(*) FROM inbound_messages")
        if done and first is None:
            first = time.perf_counter()
        if done >= n:
            break
        if time.perf_counter() - t0 > 900:
            raise SystemExit(f"drain did not finish: {done} of {n}")
        time.sleep(0.2)
    end = time.perf_counter()
    receipts = count(db, "SELECT count(*) FROM outbox WHERE kind = 'receipt'")
    cases = count(db, "SELECT count(*) FROM cases")
    proc.terminate()
    _, status, usage = os.wait4(proc.pid, 0)
    total = end - t0
    steady = end - (first or t0)
    e2e = n / steady
    print(f"drain: {n} messages recorded ({cases} new cases, {n - cases} replies on existing cases or machine mail), "
          f"{receipts} receipts queued; {total:.1f} s from process start "
          f"({n / total:.0f} messages/s including start-up), {steady:.1f} s from the first case "
          f"= {e2e:.0f} messages/s end to end (SQLite)")
    print(f"ceilings in the same run: imapclient fetch alone {imap_rate:,.0f} messages/s; "
          f"classifier alone {classify_rate:,.0f} messages/s")
    slower = min(imap_rate, classify_rate)
    print(f"end to end = {100 * e2e / slower:.0f}% of the slower ceiling")
    print(f"worker peak memory (max RSS): {usage.ru_maxrss / 1024:.0f} MB")


async def latency(dovecot, count_msgs: int) -> None:
    from bot.components import build_intake, load_classifier
    from bot.mail.imap import MailboxReader
    from bot.service import Services
    from bot.settings import Mailbox
    from storage.db import make_engine, migrate, sessions
    from tests.helpers import settings_for
    tmp = Path(tempfile.mkdtemp(prefix="bench-lat-"))
    url = f"sqlite+aiosqlite:///{tmp / 'lat.db'}"
    engine = make_engine(url)
    await migrate(engine)
    factory = sessions(engine)
    settings = settings_for(url)
    intake = build_intake(settings, Services(factory), load_classifier(settings))
    folder = f"Lat{os.getpid()}"
    fill(dovecot, folder, [])
    os.environ["BENCH_IMAP_PASSWORD"] = dovecot.password
    mb = Mailbox(name="lat", host="127.0.0.1", port=dovecot.port, tls=False, username=dovecot.user,
                 password_env="BENCH_IMAP_PASSWORD", folder=folder, processed_folder=f"{folder}-done")
    stop = threading.Event()
    reader = MailboxReader(mb, intake, factory, asyncio.get_running_loop(), stop)
    committed: dict[str, float] = {}

    async def note(kind: str, details: dict) -> None:
        committed[details["message"].identity] = time.perf_counter()
    intake.listeners.append(note)
    reader.start()
    await asyncio.to_thread(reader.idle_started.wait, 10)
    waits = []
    with imap(dovecot) as c:
        for i in range(count_msgs):
            ident = f"<lat-{os.getpid()}-{i}@example.org>"
            await asyncio.to_thread(reader.idle_started.wait, 10)
            t0 = time.perf_counter()
            c.append(folder, email_bytes(message_id=ident, subject=f"latency {i}"))
            while ident not in committed:
                await asyncio.sleep(0.002)
            waits.append(committed[ident] - t0)
    stop.set()
    await asyncio.to_thread(reader.thread.join, 10)
    await engine.dispose()
    waits.sort()
    p95 = waits[int(0.95 * len(waits)) - 1]
    print(f"IDLE latency over {count_msgs} messages, APPEND to case committed: p50 {statistics.median(waits):.3f} s, "
          f"p95 {p95:.3f} s, max {waits[-1]:.3f} s (Dovecot holds IDLE notifications about 0.5 s)")


async def smtp_rate(n: int) -> None:
    from bot.components import build_intake, load_classifier
    from bot.mail.smtp import start_listener
    from bot.service import Services
    from storage.db import make_engine, migrate, sessions
    from tests.helpers import settings_for
    tmp = Path(tempfile.mkdtemp(prefix="bench-smtp-"))
    url = f"sqlite+aiosqlite:///{tmp / 'smtp.db'}"
    engine = make_engine(url)
    await migrate(engine)
    settings = settings_for(url)
    server = await start_listener(settings, build_intake(settings, Services(sessions(engine)), load_classifier(settings)))
    port = server.sockets[0].getsockname()[1]
    messages = corpus(n)

    def send() -> float:
        with smtplib.SMTP("127.0.0.1", port) as c:
            t0 = time.perf_counter()
            for i, raw in enumerate(messages):
                c.sendmail(f"resident{i}@example.org", ["complaints@localhost"], raw)
            return time.perf_counter() - t0
    elapsed = await asyncio.to_thread(send)
    server.close()
    await engine.dispose()
    print(f"SMTP listener: {n} messages accepted and stored (case + receipt each) over one connection in "
          f"{elapsed:.1f} s = {n / elapsed:.0f} messages/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--latency", type=int, default=200)
    ap.add_argument("--smtp", type=int, default=1000)
    args = ap.parse_args()
    import logging
    logging.basicConfig(level=logging.WARNING)
    dovecot = start_dovecot()
    try:
        if args.messages:
            drain(dovecot, corpus(args.messages))
        if args.latency:
            asyncio.run(latency(dovecot, args.latency))
    finally:
        dovecot.stop()
    if args.smtp:
        asyncio.run(smtp_rate(args.smtp))
    print(f"(this process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
