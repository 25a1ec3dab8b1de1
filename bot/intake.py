"""The intake use case, carried out: one inbound message -> one transaction -> a case, a reply, or a record.

A message is stored with its case (or as correspondence on an existing case) and its receipt letter is
queued in the same transaction; only after that commits does the caller mark it processed (IMAP flag,
SMTP 250). The same message seen twice is recorded once. What cannot be parsed is quarantined raw.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import models as m
from storage.db import message_fault, unit_of_work
from storage.repository import NewCase, Repository

from . import policies
from .core.clocks import start_stage
from .core.errors import NotFound, ParseError
from .core.intake import Inbound, Route, inbound_to_json, route
from .core.letters import clean_header, greeting_name, long_date
from .core.lifecycle import Event
from .logs import redact_address
from .outbox import LetterConfig, compose_letter, count_letter
from .service import Services, new_case, now

log = logging.getLogger("bot.intake")


class Classifier(Protocol):
    """The port the classifier adapter fills: a reading of the message and the policy's suggestion."""

    def __call__(self, msg: Inbound, policy_name: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class IntakeResult:
    kind: str                    # new_case | attach | store_only | duplicate | quarantined
    why: str
    case_reference: str | None = None
    message_row: int | None = None
    escalation: bool = False  # a reply on a case that asks for the next stage (flagged for the team lead)


Listener = Callable[[str, dict[str, Any]], Awaitable[None]]


class Intake:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], services: Services, letters: LetterConfig,
                 default_policy: str = policies.DEFAULT_POLICY, region: str | None = None,
                 classifier: Classifier | None = None, max_attachment_bytes: int = 10 * 1024 * 1024) -> None:
        self.sessions, self.services, self.letters = sessions, services, letters
        self.default_policy, self.region, self.classifier = default_policy, region, classifier
        self.max_attachment_bytes = max_attachment_bytes
        self.listeners: list[Listener] = []  # told after commit: ("new_case" | "attach" ..., details)

    # -- email -------------------------------------------------------------------------------------
    def _inbound(self, raw: bytes, source: str, arrived_at: dt.datetime | None, policy: str | None) -> Inbound:
        """Parse one raw email into an Inbound (raises ParseError)."""
        from .mail.parse import parse_email
        parsed = parse_email(raw, arrived_at=arrived_at or now(), ours=self.letters.ours,
                             max_attachment_bytes=self.max_attachment_bytes)
        return Inbound(
            identity=parsed.identity, channel="email", source=source, received_at=parsed.received_at,
            text=parsed.text or parsed.full_text, sender=parsed.sender.email, sender_name=parsed.sender.name,
            reply_to=parsed.reply_address.email, complainant=parsed.complainant.email,
            complainant_name=parsed.complainant.name,
            forwarded_by=str(parsed.forwarded_by) if parsed.forwarded_by else None, subject=parsed.subject,
            quoted=parsed.quoted, signature=parsed.signature, case_reference=parsed.case_reference,
            references=parsed.references, auto_reply=parsed.auto_reply, policy=policy,
            attachments=tuple(a.describe() for a in parsed.attachments),
            extra={"message_id": parsed.message_id, "date": parsed.date.isoformat() if parsed.date else None})

    async def take_email(self, raw: bytes, source: str, arrived_at: dt.datetime | None = None,
                         policy: str | None = None) -> IntakeResult:
        """Parse and take in one raw email; unparseable mail is quarantined with the reason (never raised)."""
        return (await self.take_emails([(raw, arrived_at)], source, policy))[0]

    async def take_emails(self, items: list[tuple[bytes, dt.datetime | None]], source: str,
                          policy: str | None = None) -> list[IntakeResult]:
        """Take in a batch of raw emails (an IMAP chunk): parsed, classified together, and recorded in one
        transaction; if that transaction fails, each message is retried in its own, so one bad message can
        never hold back the others. Results come back in order."""
        results: list[IntakeResult | None] = [None] * len(items)
        good: list[tuple[int, Inbound, bytes]] = []
        for i, (raw, arrived) in enumerate(items):
            try:
                good.append((i, self._inbound(raw, source, arrived, policy), raw))
            except ParseError as exc:
                results[i] = await self.quarantine(source, None, str(exc), raw)
        for (i, _, _), result in zip(good, await self.take_many([(msg, raw) for _, msg, raw in good]), strict=True):
            results[i] = result
        if any(r is None for r in results):  # never: the reader pairs results with UIDs by position
            raise RuntimeError("intake lost track of a message in a batch")
        return results  # type: ignore[return-value]

    async def quarantine(self, source: str, identity: str | None, reason: str, raw: bytes) -> IntakeResult:
        """Keep the raw message with the reason. The same message quarantined again (a redelivery, an IMAP
        retry) updates its row rather than adding one."""
        key = identity or "sha256:" + hashlib.sha256(raw).hexdigest()[:48]
        async with unit_of_work(self.sessions) as session:
            row = (await session.execute(select(m.Quarantine).where(
                m.Quarantine.identity == key, m.Quarantine.status == "held").limit(1))).scalar_one_or_none()
            if row is None:
                row = m.Quarantine(source=source, identity=key, reason=reason[:2000], raw=raw)
                session.add(row)
            else:
                row.attempts, row.reason = row.attempts + 1, reason[:2000]
            await session.flush()
            qid = row.id
        log.warning("quarantined message %s from %s: %s", qid, source, reason[:200])
        from .metrics import QUARANTINED
        QUARANTINED.inc()
        return IntakeResult("quarantined", reason, None, qid)

    # -- any channel -------------------------------------------------------------------------------
    async def take(self, msg: Inbound, raw: bytes | None = None) -> IntakeResult:
        return (await self.take_many([(msg, raw)]))[0]

    async def take_many(self, items: list[tuple[Inbound, bytes | None]]) -> list[IntakeResult]:
        if not items:
            return []
        readings = self._classify_many([msg for msg, _ in items])
        try:
            async with unit_of_work(self.sessions) as session:
                repo = Repository(session)
                batch = await self._batch_state(repo, [msg for msg, _ in items])
                with session.no_autoflush:  # the batch's rows go in together at commit
                    results = [await self._take_in(repo, msg, raw, reading, batch)
                               for (msg, raw), reading in zip(items, readings)]
                    await self._write(repo, batch)
        except Exception:  # noqa: BLE001 - one message's failure must not hold back the others
            if len(items) == 1:
                results = [await self._take_alone(*items[0], readings[0])]
            else:
                results = [await self._take_alone(msg, raw, reading) for (msg, raw), reading in zip(items, readings)]
        for (msg, _), result in zip(items, results):
            await self._told(msg, result)
        return results

    async def _batch_state(self, repo: Repository, msgs: list[Inbound]) -> dict[str, Any]:
        """What a batch looks up once: identities already recorded, letters already sent per address."""
        addresses = sorted({(m_.reply_to if m_.forwarded_by is None else m_.complainant) or "" for m_ in msgs} - {""})
        from .outbox import recent_letters
        addresses = [a.lower() for a in addresses]
        recent = dict.fromkeys(addresses, 0)
        recent.update(await recent_letters(repo.session, self.letters, addresses, now()))
        seen = await repo.identities_present([m_.identity for m_ in msgs])
        # Messages that will open a case (no thread to join): their references are reserved in one go.
        likely = sum(1 for m_ in msgs if m_.identity not in seen and not m_.auto_reply and not m_.references
                     and not m_.case_reference)
        return {"seen": seen, "recent": recent, "likely_new": likely, "refs": {}, "pending": []}

    async def _reference(self, repo: Repository, batch: dict[str, Any], year: int) -> str:
        pool = batch["refs"].setdefault(year, [])
        if not pool:
            pool.extend(await repo.reserve_references(year, max(1, batch["likely_new"])))
        batch["likely_new"] = max(0, batch["likely_new"] - 1)
        return pool.pop(0)

    async def _take_alone(self, msg: Inbound, raw: bytes | None, reading: dict[str, Any] | None) -> IntakeResult:
        """One message in its own transaction. If it cannot be recorded for a reason of its own (text the
        database refuses, a bug), it is quarantined so the mailbox moves on; if the database itself is
        unavailable, the error goes up and the caller retries later (SMTP 451, IMAP leaves it unmarked)."""
        try:
            async with unit_of_work(self.sessions) as session:
                repo = Repository(session)
                batch = await self._batch_state(repo, [msg])
                result = await self._take_in(repo, msg, raw, reading, batch)
                await self._write(repo, batch)
                return result
        except IntegrityError as exc:
            # The same message committed by another path (SMTP and IMAP, two workers) a moment ago.
            async with self.sessions() as session:
                existing = await Repository(session).message_by_identity(msg.identity)
            if existing is not None:
                return IntakeResult("duplicate", "recorded concurrently", None, existing.id)
            problem: Exception = exc
        except Exception as exc:  # noqa: BLE001 - sorted below: the message's fault, or the database's
            if not message_fault(exc):
                raise  # a database outage, deadlock or timeout: retried later, never quarantined
            problem = exc
        log.error("could not record %s from %s: %s", msg.identity, msg.source, problem)
        kept = raw if raw is not None else inbound_to_json(msg)
        return await self.quarantine(msg.source, msg.identity,
                                     f"could not be recorded: {type(problem).__name__}: {problem}", kept)

    async def _told(self, msg: Inbound, result: IntakeResult) -> None:
        if result.kind not in ("new_case", "attach"):
            return
        log.info("%s: %s via %s from %s", result.case_reference, result.kind, msg.source, redact_address(msg.sender),
                 extra={"case": result.case_reference})
        for listener in self.listeners:
            try:
                await listener(result.kind, {"reference": result.case_reference, "message": msg,
                                             "escalation": result.escalation})
            except Exception:  # noqa: BLE001 - a notifier failing never loses the case
                log.exception("listener failed after %s", result.case_reference)

    async def _take_in(self, repo: Repository, msg: Inbound, raw: bytes | None,
                       reading: dict[str, Any] | None, batch: dict[str, Any]) -> IntakeResult:
        if msg.identity in batch["seen"]:
            existing = await repo.message_by_identity(msg.identity) if msg.identity not in batch.get("new", ()) else None
            ref = None
            if existing is not None and existing.case_id:
                ref = (await repo.session.get(m.Case, existing.case_id)).reference
            return IntakeResult("duplicate", "already recorded", ref, existing.id if existing else None)
        batch["seen"].add(msg.identity)
        batch.setdefault("new", set()).add(msg.identity)
        if msg.references or msg.case_reference:  # a reply may point at a case opened earlier in this batch
            await self._write(repo, batch)
            await repo.session.flush()
        thread = await self._thread(repo, msg)
        where = route(msg, thread.reference if thread else None)
        if where.kind == "store_only":
            await repo.add_message(**self._message_fields(msg, raw), role="auto_reply", flush=False)
            return IntakeResult("store_only", where.why, None, None)
        if thread is not None and thread.policy != (msg.policy or self.default_policy) and reading is not None:
            reading = self._classify(msg, thread.policy)
        if where.kind == "attach":
            return await self._attach(repo, thread, msg, raw, reading, where)
        return await self._new_case(repo, msg, raw, reading, where, batch)

    async def _thread(self, repo: Repository, msg: Inbound) -> m.Case | None:
        """The case a message belongs to: its References/In-Reply-To first, then a case reference.
        A changed subject alone never attaches a message to a case."""
        case = await repo.case_for_message_ids(msg.references)
        if case is None and msg.case_reference:
            try:
                case = (await repo.get(msg.case_reference)).row
            except NotFound:
                case = None
        return case

    def _classify_many(self, msgs: list[Inbound]) -> list[dict[str, Any] | None]:
        """Readings for every message a person wrote, in one pass of the model (machines are not read)."""
        wanted = [i for i, msg in enumerate(msgs) if not msg.auto_reply]
        out: list[dict[str, Any] | None] = [None] * len(msgs)
        if self.classifier is None or not wanted:
            return out
        try:
            many = getattr(self.classifier, "many", None)
            chosen = [msgs[i] for i in wanted]
            names = [msg.policy or self.default_policy for msg in chosen]
            readings = many(chosen, names) if many else [self.classifier(x, n) for x, n in zip(chosen, names)]
        except Exception:  # noqa: BLE001 - a classifier failure leaves the suggestion empty, never loses mail
            log.exception("classifier failed; recording without a suggestion")
            return out
        for i, reading in zip(wanted, readings):
            out[i] = reading
        return out

    def _classify(self, msg: Inbound, policy_name: str) -> dict[str, Any] | None:
        if self.classifier is None:
            return None
        try:
            return self.classifier(msg, policy_name)
        except Exception:  # noqa: BLE001 - a classifier failure leaves the suggestion empty, never loses mail
            log.exception("classifier failed; recording without a suggestion")
            return None

    def _message_fields(self, msg: Inbound, raw: bytes | None) -> dict[str, Any]:
        return dict(identity=msg.identity, channel=msg.channel, source=msg.source, sender=msg.sender,
                    reply_to=msg.reply_to, complainant=msg.complainant, forwarded_by=msg.forwarded_by,
                    subject=msg.subject, received_at=msg.received_at, text=msg.text, quoted=msg.quoted,
                    signature=msg.signature, headers=msg.extra or None, attachments=list(msg.attachments) or None,
                    auto_reply=msg.auto_reply, raw=raw)

    async def _attach(self, repo: Repository, case_row: m.Case, msg: Inbound, raw: bytes | None,
                      reading: dict[str, Any] | None, where: Route) -> IntakeResult:
        record = await repo.get_by_id(case_row.id)
        row = await repo.add_message(**self._message_fields(msg, raw), role="correspondence", case_id=case_row.id,
                                     flush=True)
        events = [Event("correspondence", now(), actor=msg.sender or "unknown", channel=msg.channel,
                        data={"message": row.id, "subject": msg.subject})]
        escalation = bool(reading and reading["signals"].get("escalation_request"))
        if escalation:
            record.case.escalation_flagged = True
            events.append(Event("escalation_flagged", now(), actor=msg.sender or "unknown", channel=msg.channel,
                                data={"message": row.id, "why": reading.get("why", [])}))
        await repo.save(record, events)
        return IntakeResult("attach", where.why, case_row.reference, row.id, escalation=escalation)

    async def _new_case(self, repo: Repository, msg: Inbound, raw: bytes | None, reading: dict[str, Any] | None,
                        where: Route, batch: dict[str, Any]) -> IntakeResult:
        """A new case and its receipt, held with the batch's others and written in one go (see _write)."""
        policy = policies.load(msg.policy or self.default_policy)
        year = policy.calendar(self.region).local(msg.received_at).year
        reference = await self._reference(repo, batch, year)
        signals = (reading or {}).get("signals", {})
        suggestion = None
        if reading is not None:
            s = reading["suggestion"]
            suggestion = (s["label"], s["reason"], reading.get("why"), reading.get("confidence"), s["needs_review"])
        fields = dict(
            channel=msg.channel, subject=msg.subject, resident_email=msg.complainant or msg.reply_to,
            resident_name=msg.complainant_name or msg.sender_name, passed_on_by=msg.forwarded_by,
            representative=msg.extra.get("representative") or signals.get("representative"),
            representative_name=(msg.sender_name or msg.sender) if signals.get("representative") else None,
            representative_consent=bool(msg.extra.get("consent", False)),
            resident_address=msg.extra.get("address") or None,
            urgent_hazard=signals.get("urgent_hazard"), suggestion=reading)
        case, events = new_case(reference, policy=policy, received_at=msg.received_at, region=self.region,
                                suggestion_args=suggestion, **fields)
        letter = self._receipt(policy, reference, msg, batch["recent"]) if msg.channel == "email" else None
        batch["pending"].append(NewCase(case, events, fields, {**self._message_fields(msg, raw), "role": "new_case"},
                                        [letter] if letter else []))
        return IntakeResult("new_case", where.why, reference)

    @staticmethod
    async def _write(repo: Repository, batch: dict[str, Any]) -> None:
        """Write the batch's new cases (before a lookup that may need them, and before commit)."""
        pending, batch["pending"] = batch["pending"], []
        await repo.insert_cases(pending)

    def _receipt(self, policy, reference: str, msg: Inbound, recent: dict[str, int]) -> dict | None:  # noqa: ANN001
        """The receipt letter's outbox row: the reference and by when we will confirm how it is handled."""
        to_addr = msg.reply_to if msg.forwarded_by is None else msg.complainant
        if not to_addr:
            return None
        to_addr = clean_header(to_addr, 320).lower()
        cal = policy.calendar(self.region)
        due = start_stage(policy, 1, msg.received_at, cal).deadlines(policy, cal)
        confirm_by = due.get("acknowledge") or cal.add(cal.day_zero(msg.received_at), 5)
        values = compose_letter(
            self.letters, policy=policy.id, reference=reference, case_subject=msg.subject, kind="receipt",
            template="receipt", values={"name": greeting_name(msg.complainant_name or msg.sender_name),
                                        "confirm_by": long_date(confirm_by)},
            to_addr=to_addr, to_name=msg.complainant_name, now=now(),
            thread=(msg.identity, msg.identity) if msg.identity.startswith("<") else (None, None),
            recent=recent.get(to_addr, 0))
        count_letter(recent, values)
        return values
