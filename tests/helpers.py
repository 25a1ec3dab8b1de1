"""Shared test helpers: settings for a temporary bot, an outbound SMTP sink, message builders."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
import datetime as dt

from aiosmtpd.controller import Controller

from bot.settings import Settings


def settings_for(db_url: str, **sections) -> Settings:
    data = {"database": {"url": db_url}, "smtp": {"port": 0, "recipients": ["complaints@localhost"]},
            "relay": {"from_address": "complaints@localhost", "from_name": "Complaints Team"}}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    return Settings(**data)


def email_bytes(sender="resident@example.org", subject="Leak in my kitchen", body="The kitchen ceiling is leaking.",
                name="Ann Resident", message_id=None, headers=None, date=None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>" if name else sender
    msg["To"] = "complaints@localhost"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc))
    msg["Message-ID"] = message_id or make_msgid(domain="example.org")
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body, cte="quoted-printable" if any(len(line) > 200 for line in body.splitlines()) else None)
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))  # wire format: CRLF line ends


@dataclass
class Sink:
    """A real aiosmtpd server standing in for the landlord's outbound relay; records what it receives."""

    received: list = field(default_factory=list)
    fail: bool = False
    event: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server, session, envelope):
        if self.fail:
            return "451 4.3.0 relay unavailable"
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos),
                              message_from_bytes(envelope.original_content, policy=policy.default)))
        self.event.set()
        return "250 OK"


def start_sink() -> tuple[Sink, Controller]:
    sink = Sink()
    from tests.servers import free_port
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    return sink, controller


def append_backlog(dovecot, folder: str, n: int, prefix: str) -> None:
    """Create `folder` in the test Dovecot and append `n` distinct resident emails to it."""
    from imapclient import IMAPClient
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False) as c:
        c.login(dovecot.user, dovecot.password)
        c.create_folder(folder)
        for i in range(n):
            c.append(folder, email_bytes(sender=f"{prefix}{i}@example.org", subject=f"repair {i}",
                                         message_id=f"<{prefix}-{i}@example.org>"))
