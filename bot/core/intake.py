"""The intake use case's rules: a channel-neutral inbound message, and where it goes.

An inbound message either opens a case, attaches to an existing case as correspondence (a reply to our
letters, a case reference, References/In-Reply-To), or is only stored (written by a machine). This module
decides; the service carries it out in one transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Inbound:
    """What the rest of the bot knows of a message, whichever way it came in."""

    identity: str                    # unique: Message-ID, a hash of the bytes, or the Slack event key
    channel: str                     # email | slack
    source: str                      # smtp | imap:<mailbox> | slack:<channel> | cli
    received_at: dt.datetime
    text: str
    sender: str | None = None        # address (email) or user id (slack)
    sender_name: str | None = None
    reply_to: str | None = None
    complainant: str | None = None   # the resident's address
    complainant_name: str | None = None
    forwarded_by: str | None = None  # the member of staff who passed it on
    subject: str | None = None
    quoted: str = ""
    signature: str = ""
    case_reference: str | None = None
    references: tuple[str, ...] = ()
    auto_reply: str | None = None
    policy: str | None = None        # the mailbox's or channel's profile, if it has its own
    attachments: tuple[dict[str, Any], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def classify_text(self) -> str:
        """What the classifier reads: the subject and what the person wrote this time."""
        return "\n".join(p for p in (self.subject or "", self.text) if p).strip()


@dataclass(frozen=True)
class Route:
    kind: str        # new_case | attach | store_only | duplicate
    why: str
    case_reference: str | None = None


def route(msg: Inbound, thread_reference: str | None, duplicate_of: str | None = None) -> Route:
    """Where a message goes. `thread_reference` is the case its reference or References point at."""
    if duplicate_of is not None:
        return Route("duplicate", f"already recorded as {duplicate_of}")
    if msg.auto_reply:
        return Route("store_only", f"written by a machine ({msg.auto_reply}): stored, never answered")
    if thread_reference is not None:
        return Route("attach", "reply on an existing case", thread_reference)
    return Route("new_case", "a new message")


INBOUND_JSON = b'{"inbound": '  # how a quarantined non-email message (Slack, CLI) starts: see inbound_to_json


def inbound_to_json(msg: Inbound) -> bytes:
    """A message that came in without raw bytes (Slack, CLI), kept in quarantine so it can be retried."""
    return INBOUND_JSON + json.dumps(dataclasses.asdict(msg), default=str).encode() + b"}"


def inbound_from_json(data: bytes) -> Inbound:
    fields = json.loads(data)["inbound"]
    fields["received_at"] = dt.datetime.fromisoformat(fields["received_at"])
    fields["references"] = tuple(fields.get("references") or ())
    fields["attachments"] = tuple(fields.get("attachments") or ())
    return Inbound(**fields)


def mailbox_key(address: str) -> str:
    """The mailbox an address reaches, for comparing with our own: "complaints"@x, complaints+tag@x and
    complaints@x. (trailing dot) are all complaints@x."""
    local, _, domain = address.strip().lower().rpartition("@")
    if not local:
        return address.strip().lower()
    return f"{local.strip(chr(34)).split('+', 1)[0]}@{domain.rstrip('.')}"


def letters_allowed(to: str | None, ours: set[str], recent_letters: int, limit: int) -> tuple[bool, str]:
    """May we write to `to` now? Never to ourselves, never more than `limit` letters in the window."""
    if not to or "@" not in to:
        return False, "no reply address"
    if mailbox_key(to) in {mailbox_key(o) for o in ours}:
        return False, "one of our own addresses (no mail loops)"
    if recent_letters >= limit:
        return False, f"rate limit: {recent_letters} letters to this address in the window (limit {limit})"
    return True, ""
