"""Access tokens for IMAP XOAUTH2 (Microsoft 365 and Google Workspace no longer take passwords for IMAP).

One `TokenSource` per mailbox, used from that mailbox's reader thread: it asks the identity provider's token
endpoint (RFC 6749, client-credentials or refresh-token grant) with httpx, keeps the token until a minute
before it expires, and forgets it when the IMAP server refuses it, so the next reconnect asks again.
The client secret and refresh token come from the environment only and are never logged.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx

from ..core.errors import BotError

log = logging.getLogger("bot.imap")
EARLY = 60.0  # seconds before expiry at which a token is renewed


class TokenError(BotError):
    """The token endpoint refused or could not be reached (the reader backs off and tries again)."""


class TokenSource:
    def __init__(self, oauth: Any, name: str, timeout: float = 15.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.oauth, self.name, self.timeout, self.transport = oauth, name, timeout, transport
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()
        self.fetched = 0  # tokens obtained (for logs and tests)
        self._refresh_token: str | None = None  # a rotated refresh token, kept in memory only

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires - EARLY:
                self._token, lifetime = self._fetch()
                self._expires = time.monotonic() + lifetime
                self.fetched += 1
            return self._token

    def forget(self) -> None:
        """The server refused the token (revoked, or a clock skew): the next `token()` fetches a new one."""
        with self._lock:
            self._token = None

    def _fetch(self) -> tuple[str, float]:
        o = self.oauth
        form = {"grant_type": o.grant, "client_id": o.client_id}
        if o.client_secret():
            form["client_secret"] = o.client_secret()
        if o.grant == "refresh_token":
            form["refresh_token"] = self._refresh_token or o.refresh_token()
        if o.scope:
            form["scope"] = o.scope
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                response = client.post(o.token_url, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise TokenError(f"token endpoint {o.token_url}: {type(exc).__name__}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("access_token"):
            detail = body.get("error_description") or body.get("error") or response.reason_phrase
            raise TokenError(f"token endpoint {o.token_url} refused the {o.grant} grant: "
                             f"HTTP {response.status_code} {detail}")
        if body.get("refresh_token"):  # a provider that rotates refresh tokens: use the newest from now on
            self._refresh_token = body["refresh_token"]
        lifetime = float(body.get("expires_in") or 3600)
        log.info("imap %s: OAuth2 token obtained (%s grant, valid %.0f s)", self.name, o.grant, lifetime)
        return body["access_token"], lifetime
