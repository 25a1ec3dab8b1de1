"""The transactional outbox: letters are written in the same transaction as the change that causes them.

`queue_letter` renders a letter and inserts it (or records why it is suppressed: our own address, the
per-sender rate limit). The sender in `bot.mail.sender` drains pending rows to the relay.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models as m

from . import templates
from .core.letters import Letter, clean_header, render, subject_for
from .core.intake import letters_allowed


@dataclass(frozen=True)
class LetterConfig:
    from_address: str = "complaints@localhost"
    landlord: str = "Complaints Team"
    ours: frozenset[str] = frozenset()
    max_per_sender: int = 3
    window_hours: int = 24

    @property
    def domain(self) -> str:
        return self.from_address.rsplit("@", 1)[-1] or "localhost"

    @classmethod
    def from_settings(cls, settings) -> "LetterConfig":  # noqa: ANN001
        return cls(from_address=settings.relay.from_address, landlord=settings.relay.from_name,
                   ours=frozenset(settings.our_addresses), max_per_sender=settings.relay.max_letters_per_sender,
                   window_hours=settings.relay.rate_window_hours)


def new_message_id(kind: str, reference: str, domain: str) -> str:
    return f"<{uuid.uuid4().hex}.{kind}.{reference.lower()}@{domain}>"


async def thread_headers(session: AsyncSession, case_id: int) -> tuple[str | None, str | None]:
    """(In-Reply-To, References) for a letter on this case: the resident's messages and our earlier letters."""
    inbound = (await session.execute(
        select(m.InboundMessage.identity).where(m.InboundMessage.case_id == case_id, m.InboundMessage.channel == "email")
        .order_by(m.InboundMessage.id))).scalars().all()
    sent = (await session.execute(
        select(m.Outbox.message_id).where(m.Outbox.case_id == case_id).order_by(m.Outbox.id))).scalars().all()
    ids = [i for i in inbound if i.startswith("<")] + list(sent)
    if not ids:
        return None, None
    last_inbound = next((i for i in reversed(inbound) if i.startswith("<")), None)
    return last_inbound or ids[-1], " ".join(ids[-10:])


async def recent_letters(session: AsyncSession, config: LetterConfig, addresses: list[str],
                         now: dt.datetime) -> dict[str, int]:
    """Letters queued or sent to each address within the rate window."""
    rows = await session.execute(
        select(m.Outbox.to_addr, func.count()).where(
            m.Outbox.to_addr.in_(addresses), m.Outbox.status.in_(("pending", "sending", "sent")),
            m.Outbox.created_at >= now - dt.timedelta(hours=config.window_hours)).group_by(m.Outbox.to_addr))
    return {addr: n for addr, n in rows.all()}


def compose_letter(config: LetterConfig, *, policy: str, reference: str, case_subject: str | None, kind: str,
                   template: str, values: dict[str, str], to_addr: str, to_name: str | None, now: dt.datetime,
                   thread: tuple[str | None, str | None], recent: int) -> dict:
    """An outbox row's columns (without case_id): the letter rendered, pending or suppressed with the reason
    (our own address, the per-sender rate limit). No I/O beyond the cached templates."""
    ok, why = letters_allowed(to_addr, set(config.ours), recent, config.max_per_sender)
    text_t, html_t = templates.load(policy, template)
    text, html = render(text_t, html_t, {**values, "landlord": config.landlord, "reference": reference})
    letter = Letter(kind=kind, to_addr=to_addr, to_name=clean_header(to_name, 120) or None,
                    subject=subject_for(reference, case_subject), text=text, html=html,
                    in_reply_to=thread[0], references=thread[1])
    return dict(kind=letter.kind, to_addr=letter.to_addr, to_name=letter.to_name, subject=letter.subject,
                body_text=letter.text, body_html=letter.html, message_id=new_message_id(kind, reference, config.domain),
                in_reply_to=letter.in_reply_to, references=letter.references, status="pending" if ok else "suppressed",
                last_error=None if ok else why, created_at=now, next_attempt_at=now)


def count_letter(recent_counts: dict[str, int], values: dict) -> None:
    """A batch's running count of letters per address (suppressed ones do not count)."""
    if values["status"] == "pending":
        recent_counts[values["to_addr"]] = recent_counts.get(values["to_addr"], 0) + 1


async def queue_letter(session: AsyncSession, config: LetterConfig, case: m.Case, kind: str, template: str,
                       values: dict[str, str], to_addr: str | None, to_name: str | None,
                       now: dt.datetime | None = None,
                       thread: tuple[str | None, str | None] | None = None,
                       recent_counts: dict[str, int] | None = None) -> m.Outbox | None:
    """Render and insert a letter for `case`; returns the row (status pending or suppressed), or None
    when there is nobody to write to. `recent_counts` (letters per address in the window) lets a batch
    count once for all its letters."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if not to_addr:
        return None
    to_addr = clean_header(to_addr, 320).lower()
    if recent_counts is not None and to_addr in recent_counts:
        recent = recent_counts[to_addr]
    else:
        recent = (await recent_letters(session, config, [to_addr], now)).get(to_addr, 0)
    if thread is None:
        thread = await thread_headers(session, case.id)
    row_values = compose_letter(config, policy=case.policy, reference=case.reference, case_subject=case.subject,
                                kind=kind, template=template, values=values, to_addr=to_addr, to_name=to_name,
                                now=now, thread=thread, recent=recent)
    if recent_counts is not None:
        recent_counts.setdefault(to_addr, recent)
        count_letter(recent_counts, row_values)
    row = m.Outbox(case=case, **row_values)
    session.add(row)
    return row


async def list_outbox(session: AsyncSession, status: str | None = None, limit: int = 200) -> list[dict]:
    query = select(m.Outbox, m.Case.reference).join(m.Case, m.Case.id == m.Outbox.case_id, isouter=True)
    if status:
        query = query.where(m.Outbox.status == status)
    rows = (await session.execute(query.order_by(m.Outbox.id.desc()).limit(limit))).all()
    return [{"id": o.id, "case_reference": ref, "kind": o.kind, "to": o.to_addr, "subject": o.subject,
             "status": o.status, "attempts": o.attempts, "message_id": o.message_id, "error": o.last_error,
             "created_at": o.created_at.isoformat() if o.created_at else None,
             "sent_at": o.sent_at.isoformat() if o.sent_at else None, "text": o.body_text} for o, ref in rows]
