"""`python -m bot doctor`: checks each part the bot depends on and says how to fix what fails."""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from dataclasses import dataclass
from typing import Any


@dataclass
class Check:
    name: str
    ok: bool | None  # None: not configured, skipped
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "off "}[self.ok]
        return f"[{mark}] {self.name}: {self.detail}" + (f"\n       fix: {self.fix}" if not self.ok and self.fix else "")


async def run_checks(settings: Any) -> list[Check]:
    checks = [Check("settings", True, f"loaded from {settings.source or 'built-in defaults'}")]
    checks.append(await _database(settings))
    for mb in settings.imap.mailboxes:
        checks.append(await asyncio.to_thread(_imap, mb))
    if not settings.imap.mailboxes:
        checks.append(Check("imap", None, "no mailboxes configured"))
    checks.append(await asyncio.to_thread(_relay, settings) if settings.relay.host else
                  Check("relay", None, "relay.host not set: letters stay in the outbox"))
    checks.append(await _slack(settings))
    checks.append(_model(settings))
    return checks


async def _database(settings: Any) -> Check:
    from storage.db import current_revision, head_revision, make_engine
    engine = make_engine(settings.database_url)
    try:
        revision = await current_revision(engine)
    except Exception as exc:  # noqa: BLE001
        return Check("database", False, f"cannot connect: {type(exc).__name__}: {exc}",
                     "check database.url and that the server is running and reachable")
    finally:
        await engine.dispose()
    head = head_revision()
    if revision != head:
        return Check("database", False, f"schema at {revision or 'nothing'}, code expects {head}",
                     "run `python -m bot migrate` (the bot also migrates at start)")
    return Check("database", True, f"reachable, schema at {revision}")


def _imap(mb: Any) -> Check:
    from imapclient import IMAPClient

    from .mail.imap import login
    from .mail.oauth import TokenError, TokenSource
    name = f"imap {mb.name}"
    missing = [env for env in mb.secrets_needed() if not os.environ.get(env)]
    if missing:
        what = "the mailbox password" if mb.auth == "password" else "the OAuth2 client secret / refresh token"
        return Check(name, False, f"{', '.join(missing)} not set", f"export {missing[0]}=<{what}>")
    tokens = TokenSource(mb.oauth2, mb.name) if mb.auth == "oauth2" else None
    if tokens is not None:
        try:
            tokens.token()
        except TokenError as exc:
            return Check(name, False, str(exc), "check oauth2.token_url, client_id, the secret, scope and the "
                                                "app's IMAP permission (Microsoft: IMAP.AccessAsApp)")
    try:
        with IMAPClient(mb.host, port=mb.port, ssl=mb.tls, ssl_context=ssl.create_default_context() if mb.tls else None,
                        timeout=15) as client:
            login(client, mb, tokens)
            missing = [f for f in (mb.folder, mb.processed_folder, mb.quarantine_folder)
                       if f and not client.folder_exists(f)]
            caps = {c.decode() if isinstance(c, bytes) else c for c in client.capabilities()}
    except Exception as exc:  # noqa: BLE001
        return Check(name, False, f"{mb.host}:{mb.port}: {type(exc).__name__}: {exc}",
                     "check host, port, tls, username and the password or OAuth2 token; IMAP must be enabled for the account")
    if mb.folder in missing:
        return Check(name, False, f"folder {mb.folder!r} does not exist", "set imap.mailboxes[].folder to an existing folder")
    extra = f"; will create {', '.join(missing)}" if missing else ""
    return Check(name, True, f"logged in to {mb.host}; {'IDLE' if 'IDLE' in caps else 'no IDLE (polling)'}, "
                             f"{'MOVE' if 'MOVE' in caps else 'no MOVE (flags instead)'}{extra}")


def _relay(settings: Any) -> Check:
    r = settings.relay
    try:
        client = smtplib.SMTP_SSL(r.host, r.port, timeout=15) if r.ssl else smtplib.SMTP(r.host, r.port, timeout=15)
        with client:
            if r.starttls and not r.ssl:
                client.starttls(context=ssl.create_default_context())
            if r.username:
                client.login(r.username, r.password())
            client.noop()
    except Exception as exc:  # noqa: BLE001
        return Check("relay", False, f"{r.host}:{r.port}: {type(exc).__name__}: {exc}",
                     f"check relay.host/port/starttls/ssl, relay.username and {r.password_env}")
    return Check("relay", True, f"{r.host}:{r.port} accepts us" + (f" as {r.username}" if r.username else ""))


async def _slack(settings: Any) -> Check:
    cfg = settings.slack
    if not cfg.configured:
        return Check("slack", None, "not configured (see README: Connecting Slack)")
    from slack_sdk.web.async_client import AsyncWebClient
    client = AsyncWebClient(token=cfg.bot_token(), **({"base_url": cfg.api_base_url} if cfg.api_base_url else {}))
    try:
        resp = await client.auth_test()
    except Exception as exc:  # noqa: BLE001
        return Check("slack", False, f"auth.test failed: {exc}", "check SLACK_BOT_TOKEN (xoxb-...) and the app install")
    return Check("slack", True, f"authenticated as {resp.get('user')} in team {resp.get('team') or resp.get('team_id')}")


def _model(settings: Any) -> Check:
    path = settings.model_dir
    if not (path / "meta.json").is_file():
        return Check("model", False, f"no trained model at {path}", "run `python -m bot train` (about 25 s)")
    try:
        import spacy
        import classifiers.pipeline  # noqa: F401 - registers the signal_rules component
        nlp = spacy.load(path)
    except Exception as exc:  # noqa: BLE001
        return Check("model", False, f"cannot load {path}: {exc}", "run `python -m bot train` again")
    meta = nlp.meta.get("training", {})
    return Check("model", True, f"{path} ({meta.get('records', '?')} records, held-out macro-F1 "
                                f"{meta.get('holdout_macro_f1', 0):.3f})")
