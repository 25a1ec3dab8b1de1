"""Raw email bytes -> `ParsedEmail`: what a person wrote, who they are, and what the bot should make of it.

Headers are decoded (RFC 2047, display names); text/plain is preferred and HTML-only mail is converted with
inscriptis; declared, wrong and missing charsets are handled (windows-1252 for mislabelled latin-1, UTF-8
or a detected charset where none is declared); quoted replies and signatures are separated with
mail-parser-reply (keeping both); forwards (inline blocks and attached message/rfc822) name the original
writer as the complainant and the forwarder as who passed it on. Attachments are recorded, never parsed.
Any input, however broken, gives either a `ParsedEmail` or a `ParseError` with the reason.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field, fields, replace
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from ..core.errors import ParseError
from .loops import machine_rule

LONDON = ZoneInfo("Europe/London")
CASE_REFERENCE = re.compile(r"\bCMP-(\d{4})-(\d{5})\b", re.I)
FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|fw)\s*:", re.I)
FORWARD_MARKERS = re.compile(
    r"^[ \t>]*(?:-{2,}\s*Forwarded message\s*-{2,}|-{2,}\s*Original Message\s*-{2,}|Begin forwarded message:|"
    r"_{10,})[ \t]*$", re.I | re.M)
HEADER_LINE = re.compile(r"^[ \t>*]*(From|Sent|Date|To|Cc|Subject)\s*:\s*(.*)$", re.I)


@dataclass(frozen=True)
class Address:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    stored: bool
    data: bytes | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        return {"filename": self.filename, "content_type": self.content_type, "size": self.size, "stored": self.stored}


@dataclass(frozen=True)
class ParsedEmail:
    identity: str                     # the Message-ID, or a stable hash of the bytes when there is none
    message_id: str | None
    sender: Address
    reply_to: Address | None
    complainant: Address              # the resident: the sender, or the original writer of a forward
    forwarded_by: Address | None      # the member of staff who passed it on
    subject: str
    date: dt.datetime | None          # the Date header
    received_at: dt.datetime          # date of receipt (the original date of a forward when earlier)
    text: str                         # what the person wrote this time
    quoted: str                       # earlier messages quoted below it
    signature: str
    full_text: str                    # the whole body as text, unsplit
    attachments: tuple[Attachment, ...]
    case_reference: str | None
    references: tuple[str, ...]       # In-Reply-To and References: for threading
    auto_reply: str | None            # the rule that says a machine wrote it, or None
    html_only: bool = False
    defects: tuple[str, ...] = ()

    @property
    def reply_address(self) -> Address:
        return self.reply_to or self.sender

    def as_json(self) -> dict[str, Any]:
        """The shape `python -m bot parse --json` prints."""
        def addr(a: Address | None) -> dict[str, str] | None:
            return None if a is None else {"name": a.name, "email": a.email}
        return {
            "sender": addr(self.sender), "reply_to": addr(self.reply_address), "complainant": addr(self.complainant),
            "forwarded_by": addr(self.forwarded_by), "subject": self.subject,
            "received_at": self.received_at.isoformat(), "date": self.date.isoformat() if self.date else None,
            "message_id": self.message_id, "text": self.text, "quoted": self.quoted, "signature": self.signature,
            "attachments": [a.describe() for a in self.attachments], "case_reference": self.case_reference,
            "references": list(self.references), "auto_reply": self.auto_reply,
        }


# -- headers ---------------------------------------------------------------------------------------
def _raw_header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 - the default policy can fail on very broken headers
        value = None
    if value is None:
        try:
            raw = msg.get_all(name, failobj=[]) or []
            value = raw[0] if raw else None
        except Exception:  # noqa: BLE001
            value = None
    return "" if value is None else str(value)


def decode_words(value: str) -> str:
    """RFC 2047 encoded words -> text; anything undecodable is kept as it came."""
    if "=?" not in value:
        return " ".join(value.split())
    try:
        return " ".join(str(make_header(decode_header(value))).split())
    except Exception:  # noqa: BLE001
        return " ".join(value.split())


# local@domain: no spaces, brackets, quotes or a second "@" (quoted local parts are not accepted for replies).
ADDR_SPEC = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?")


def _address(msg: Message, name: str) -> Address | None:
    raw = _raw_header(msg, name)
    if not raw.strip():
        return None
    try:
        pairs = getaddresses([raw])
    except Exception:  # noqa: BLE001
        pairs = [parseaddr(raw)]
    for display, addr in pairs:
        if len(addr.strip()) <= 254 and ADDR_SPEC.fullmatch(addr.strip()):  # RFC 5321: a path is at most 256
            return Address(decode_words(display).strip('" '), addr.strip().lower())
    # A malformed display name (an encoded word holding "@" or ",", which RFC 2047 forbids in a phrase)
    # makes getaddresses split in the wrong place: the <angle-bracketed> address is then the sender.
    angled = [a for a in re.findall(r"<([^<>\s]+)>", raw) if len(a) <= 254 and ADDR_SPEC.fullmatch(a)]
    if angled:
        display = raw[:raw.rfind("<" + angled[-1])]
        return Address(decode_words(display).strip('" '), angled[-1].lower())
    # A header with no usable address ("From: foo", "MAILER DAEMON <>"): keep what it says; no letter
    # can be sent to it, but the message is still recorded.
    display, addr = pairs[0] if pairs else ("", "")
    text = decode_words(display or raw).strip('" ')
    return Address(text, addr.strip().lower()) if (text or addr) else None


def _message_ids(value: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def _parse_date(value: str) -> dt.datetime | None:
    if not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        parsed = None
    if parsed is None:
        try:
            from dateutil import parser as dateparser
            parsed = dateparser.parse(value.replace(" at ", " "), dayfirst=True, fuzzy=True)
        except (ValueError, OverflowError, TypeError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LONDON)
    return parsed.astimezone(dt.timezone.utc)


# -- bodies ----------------------------------------------------------------------------------------
_LATIN1_NAMES = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "iso_8859-1", "cp819", "us-ascii", "ascii",
                 "ansi_x3.4-1968", "windows-1252", "cp1252"}


def decode_text(data: bytes, declared: str | None) -> str:
    """Bytes of a text part -> str, surviving wrong and missing charsets."""
    charset = (declared or "").strip().strip('"').lower()
    if data.isascii():
        return data.decode("ascii")
    if not charset or charset in _LATIN1_NAMES:
        # Undeclared, or declared latin-1/ascii: UTF-8 if it decodes, else windows-1252 (the WHATWG reading
        # of a latin-1 label: 0x80-0x9f are curly quotes, dashes and the euro sign, not control codes).
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        if not charset:
            from charset_normalizer import from_bytes
            best = from_bytes(data).best()
            if best is not None and best.encoding not in ("ascii", "utf_8"):
                return str(best)
        return data.decode("cp1252", errors="replace")
    try:
        return data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", errors="replace")


def html_to_text(html: str) -> str:
    from inscriptis import get_text
    from inscriptis.model.config import ParserConfig
    try:
        text = get_text(html, ParserConfig(display_links=False, display_images=False))
    except Exception:  # noqa: BLE001 - broken HTML still yields its text
        text = re.sub(r"<[^>]+>", " ", html)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _part_text(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        data = None
    if data is None:
        payload = part.get_payload()
        data = payload.encode("utf-8", "replace") if isinstance(payload, str) else b""
    charset = None
    try:
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001
        pass
    return decode_text(data, charset).replace("\r\n", "\n").replace("\r", "\n")


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        name = None
    return decode_words(str(name)) if name else None


def _is_attachment(part: Message) -> bool:
    disposition = (_raw_header(part, "Content-Disposition").split(";")[0] or "").strip().lower()
    return disposition == "attachment" or (
        _filename(part) is not None and part.get_content_maintype() not in ("text", "multipart"))


def _walk(msg: Message) -> Iterable[Message]:
    """Parts of `msg`, not descending into attached messages (they are forwards or attachments)."""
    if msg.is_multipart():
        payload = msg.get_payload()
        for part in payload if isinstance(payload, list) else []:
            if part.get_content_type() == "message/rfc822":
                yield part
            else:
                yield from _walk(part)
    else:
        yield msg


def _body(msg: Message, max_attachment: int) -> tuple[str, bool, list[Attachment], list[Message]]:
    """(text, html_only, attachments, attached messages)."""
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    attached: list[Message] = []
    for part in _walk(msg):
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(inner_msg, Message):
                attached.append(inner_msg)
            raw_inner = inner_msg.as_bytes() if isinstance(inner_msg, Message) else b""
            name = _filename(part) or "message.eml"
            attachments.append(Attachment(name, ctype, len(raw_inner), len(raw_inner) <= max_attachment,
                                          raw_inner if len(raw_inner) <= max_attachment else None))
            continue
        if _is_attachment(part):
            try:
                data = part.get_payload(decode=True) or b""
            except Exception:  # noqa: BLE001
                data = b""
            stored = len(data) <= max_attachment
            attachments.append(Attachment(_filename(part) or "attachment", ctype, len(data), stored,
                                          data if stored else None))
        elif ctype == "text/plain":
            plain.append(_part_text(part))
        elif ctype == "text/html":
            html.append(_part_text(part))
    if plain:
        return "\n\n".join(p.strip("\n") for p in plain), False, attachments, attached
    if html:
        return "\n\n".join(html_to_text(h) for h in html), True, attachments, attached
    return "", False, attachments, attached


# -- replies, signatures, forwards -----------------------------------------------------------------
def split_reply(text: str) -> tuple[str, str, str]:
    """(new text, quoted text, signature), using mail-parser-reply; the whole text if it cannot split."""
    if not text.strip():
        return "", "", ""
    try:
        from mailparser_reply import EmailReplyParser
        replies = EmailReplyParser(languages=["en"]).read(text=text).replies
    except Exception:  # noqa: BLE001 - never lose the text to a parser failure
        return text.strip(), "", ""
    if not replies:
        return text.strip(), "", ""
    first = replies[0]
    new = (first.body or "").strip()
    signature = (first.signatures or "").strip()
    quoted = "\n\n".join((r.content or "").strip() for r in replies[1:]).strip()
    if not new and not quoted:
        return text.strip(), "", ""
    return new, quoted, signature


@dataclass(frozen=True)
class InlineForward:
    note: str
    sender: Address | None
    date: dt.datetime | None
    subject: str
    body: str


def find_inline_forward(text: str, subject: str) -> InlineForward | None:
    """An inline 'Forwarded message' / 'Original Message' block with its From/Date/Subject lines."""
    for marker in FORWARD_MARKERS.finditer(text):
        explicit = "forward" in marker.group(0).lower()
        if not explicit and not FORWARD_SUBJECT.match(subject):
            continue
        fwd = _header_block(text[marker.end():])
        if fwd is not None:
            return InlineForward(text[:marker.start()].strip(), *fwd)
    if FORWARD_SUBJECT.match(subject):  # Outlook without a rule line: a 'From:' block opens the forward
        match = re.search(r"^[ \t>*]*From\s*:.*$", text, re.M | re.I)
        if match:
            fwd = _header_block(text[match.start():])
            if fwd is not None:
                return InlineForward(text[:match.start()].strip(), *fwd)
    return None


def _header_block(text: str) -> tuple[Address | None, dt.datetime | None, str, str] | None:
    lines = text.lstrip("\n").split("\n")
    fields: dict[str, str] = {}
    i = 0
    while i < len(lines) and i < 20:
        match = HEADER_LINE.match(lines[i])
        if match:
            fields[match.group(1).lower()] = match.group(2).strip()
            i += 1
            continue
        if fields and not lines[i].strip():
            break
        if fields and lines[i].startswith((" ", "\t")):  # folded header line
            i += 1
            continue
        if fields:
            break
        i += 1
    if "from" not in fields:
        return None
    name, addr = parseaddr(fields["from"].replace("[mailto:", "<").replace("]", ">"))
    sender = Address(name.strip('" '), addr.lower()) if addr and "@" in addr else None
    when = _parse_date(fields.get("date") or fields.get("sent") or "")
    body = "\n".join(line[1:].lstrip() if line.startswith(">") else line for line in lines[i:]).strip()
    return sender, when, fields.get("subject", ""), body


def find_case_reference(*texts: str) -> str | None:
    for text in texts:
        match = CASE_REFERENCE.search(text or "")
        if match:
            return f"CMP-{match.group(1)}-{match.group(2)}"
    return None


# -- the whole message -----------------------------------------------------------------------------
def parse_email(raw: bytes, arrived_at: dt.datetime | None = None, ours: Iterable[str] = (),
                max_attachment_bytes: int = 10 * 1024 * 1024) -> ParsedEmail:
    """Understand one raw email. Raises `ParseError` (with the reason) only when there is nothing to go on.

    `arrived_at` is when it reached us (SMTP: now; IMAP: INTERNALDATE); without it, the Date header.
    """
    if not raw or not raw.strip():
        raise ParseError("empty message")
    try:
        # compat32 keeps headers as raw strings: decoding them once ourselves (decode_words, getaddresses) is
        # ~3x faster than the default policy, which re-parses a header on every access.
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # noqa: BLE001
        raise ParseError(f"not an email message: {exc}") from exc
    try:
        if arrived_at is None:  # a file on its own: the Date header is the best evidence of receipt
            arrived_at = _parse_date(_raw_header(msg, "Date")) or dt.datetime.now(dt.timezone.utc)
        return _understand(msg, raw, arrived_at, tuple(ours), max_attachment_bytes)
    except ParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything unexpected becomes a quarantine reason
        raise ParseError(f"could not parse: {type(exc).__name__}: {exc}") from exc


def _understand(msg: Message, raw: bytes, arrived: dt.datetime, ours: tuple[str, ...],
                max_attachment: int) -> ParsedEmail:
    # In UTC: SQLite keeps no offset, so an IMAP INTERNALDATE at +01:00 would read back an hour late.
    arrived = (arrived if arrived.tzinfo else arrived.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)
    sender = _address(msg, "From") or _address(msg, "Sender") or _address(msg, "Return-Path")
    if sender is None:
        raise ParseError("no sender (From, Sender and Return-Path are all missing)")
    reply_to = _address(msg, "Reply-To")
    subject = decode_words(_raw_header(msg, "Subject"))
    date = _parse_date(_raw_header(msg, "Date"))
    ids = _message_ids(_raw_header(msg, "Message-ID"))
    message_id = ids[0] if ids else None
    if message_id is not None and len(message_id) > 255:  # longer than the identity column holds
        message_id = None
    references = tuple(dict.fromkeys(_message_ids(_raw_header(msg, "In-Reply-To")) +
                                     _message_ids(_raw_header(msg, "References"))))
    auto = machine_rule(msg, sender.email, ours)
    body, html_only, attachments, attached = _body(msg, max_attachment)

    complainant, forwarded_by, received_at = sender, None, arrived
    text_source = body
    if auto is None and attached and (FORWARD_SUBJECT.match(subject) or len(body.strip()) < 500):
        inner = attached[0]
        inner_sender = _address(inner, "From")
        if inner_sender is not None and inner_sender.email != sender.email:
            complainant, forwarded_by = inner_sender, sender
            inner_body, _, _, _ = _body(inner, max_attachment)
            text_source = inner_body
            inner_date = _parse_date(_raw_header(inner, "Date"))
            if inner_date is not None and inner_date < received_at:
                received_at = inner_date
    elif auto is None:
        fwd = find_inline_forward(body, subject)
        if fwd is not None and fwd.sender is not None and fwd.sender.email != sender.email:
            complainant, forwarded_by, text_source = fwd.sender, sender, fwd.body
            if fwd.date is not None and fwd.date < received_at:
                received_at = fwd.date

    new, quoted, signature = split_reply(text_source)
    if forwarded_by is not None:
        quoted = (quoted + "\n\n" if quoted else "") + f"[forwarded by {forwarded_by}]\n" + body.strip()
    defects = tuple(sorted({type(d).__name__ for d in getattr(msg, "defects", [])}))
    # Without a Message-ID, the identity is a hash of what the writer sent, not of the raw bytes: the copy a
    # mailbox server stores carries trace headers (Return-Path, Delivered-To) that the SMTP copy does not.
    if message_id is None:  # the attachments too: the same words with a different photo are a new message
        files = "\n".join(f"{a.filename}|{a.content_type}|{a.size}|" +
                          (hashlib.sha256(a.data).hexdigest() if a.data else "") for a in attachments)
        identity = "sha256:" + hashlib.sha256("\n".join((sender.email, _raw_header(msg, "Date"), subject, body, files))
                                              .encode("utf-8", "replace")).hexdigest()[:48]
    else:
        identity = message_id
    return _storable(ParsedEmail(
        identity=identity, message_id=message_id, sender=sender, reply_to=reply_to, complainant=complainant,
        forwarded_by=forwarded_by, subject=subject, date=date, received_at=received_at, text=new, quoted=quoted,
        signature=signature, full_text=body, attachments=tuple(attachments),
        case_reference=find_case_reference(subject, new, quoted), references=references, auto_reply=auto,
        html_only=html_only, defects=defects))


_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")  # NUL and lone surrogates: no database text type holds them


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, tuple):
        return tuple(_clean(v) for v in value)
    if isinstance(value, (Address, Attachment)):
        return replace(value, **{f.name: _clean(getattr(value, f.name)) for f in fields(value)
                                 if isinstance(getattr(value, f.name), str)})
    return value


def _storable(parsed: ParsedEmail) -> ParsedEmail:
    """Text a sender's charset label can smuggle in (a NUL, or a lone surrogate from `unicode_escape`) would
    make the database refuse the whole message: it becomes U+FFFD, as an undecodable byte does."""
    return replace(parsed, **{f.name: _clean(getattr(parsed, f.name)) for f in fields(parsed)})

