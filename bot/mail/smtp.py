"""The SMTP/LMTP listener (aiosmtpd): where the landlord's mail server delivers complaints@ mail.

Like Mailman's LMTP runner, it only checks the recipient, hands the bytes to intake and answers: 250 once
the message is durably stored (as a case, correspondence, or in quarantine), 451 when it cannot be stored
(the sending server will try again), 550 for recipients we do not serve, 552 over the size limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import ssl
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from ..logs import redact_address

log = logging.getLogger("bot.smtp")

OK = "250 2.0.0 OK: stored"
TRY_AGAIN = "451 4.3.0 Could not store the message; please try again later"
NO_SUCH_RECIPIENT = "550 5.1.1 Recipient not accepted here"


class IntakeHandler:
    """aiosmtpd handler: recipients we serve, bytes to intake, status after the commit."""

    def __init__(self, intake: Any, recipients: list[str], policy: str | None = None, lmtp: bool = False) -> None:
        self.intake, self.recipients, self.policy, self.lmtp = intake, {r.lower() for r in recipients}, policy, lmtp

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str, rcpt_options: list) -> str:
        if address.lower() not in self.recipients:
            log.info("refused recipient %s from %s", redact_address(address), session.peer[0] if session.peer else "?")
            return NO_SUCH_RECIPIENT
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or (envelope.content if isinstance(envelope.content, bytes) else b"")
        # We are the final delivery agent: record the envelope sender as Return-Path (RFC 5321 4.4), as a
        # mailbox server does, so a bounce's null sender <> is seen by the loop rules on this path too.
        path = (envelope.mail_from or "").strip().strip("<>")
        raw = f"Return-Path: <{path}>\r\n".encode("utf-8", "replace") + raw
        try:
            result = await self.intake.take_email(raw, "smtp", arrived_at=dt.datetime.now(dt.timezone.utc),
                                                  policy=self.policy)
            status = f"{OK} ({result.kind}{' ' + result.case_reference if result.case_reference else ''})"
        except Exception:  # noqa: BLE001 - the sender keeps the message and retries
            log.exception("could not store a message from %s", redact_address(envelope.mail_from))
            status = TRY_AGAIN
        if self.lmtp:  # RFC 2033: one reply per accepted recipient after DATA
            return "\r\n".join([status] * max(1, len(envelope.rcpt_tos)))
        return status


class Authenticator:
    """AUTH PLAIN/LOGIN against one configured user, password from BOT_SMTP_AUTH_PASSWORD."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __call__(self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.user
              and auth_data.password.decode() == self.password and bool(self.password))
        return AuthResult(success=ok, handled=False)


def _tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def start_listener(settings: Any, intake: Any) -> asyncio.AbstractServer:
    """Serve SMTP (or LMTP) inside the running loop; logs where it listens and what it accepts."""
    cfg = settings.smtp
    handler = IntakeHandler(intake, cfg.recipients, cfg.policy, lmtp=cfg.lmtp)
    tls = (_tls_context(str(settings.resolve(cfg.tls_cert)), str(settings.resolve(cfg.tls_key)))
           if cfg.tls_cert and cfg.tls_key else None)  # relative paths are from the repository root
    auth = Authenticator(cfg.auth_user, os.environ.get("BOT_SMTP_AUTH_PASSWORD", "")) if cfg.auth_user else None
    protocol = LMTP if cfg.lmtp else SMTP
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return protocol(handler, data_size_limit=cfg.max_message_bytes, enable_SMTPUTF8=True,
                        hostname="complaints-bot", ident="complaints-bot", tls_context=tls,
                        authenticator=auth, auth_required=auth is not None, auth_require_tls=tls is not None,
                        loop=loop)

    server = await loop.create_server(factory, host=cfg.host, port=cfg.port)
    port = server.sockets[0].getsockname()[1]
    extras = ", ".join(x for x in ("STARTTLS" if tls else "", "AUTH" if auth else "") if x) or "no TLS, no AUTH"
    log.info("smtp: %s listening on %s:%d for %s (max %d bytes; %s)", "LMTP" if cfg.lmtp else "SMTP", cfg.host,
             port, ", ".join(cfg.recipients), cfg.max_message_bytes, extras)
    return server
