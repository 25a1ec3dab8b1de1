"""IMAP with OAuth2 (XOAUTH2) against a real Dovecot that checks every token at a local OAuth2 server's
introspection endpoint: the client-credentials grant (Microsoft 365 app-only) and the refresh-token grant
(Google Workspace, delegated mailboxes), token reuse, a revoked token, a refused client, and the settings
and start-up checks that name what is missing."""

import asyncio
import threading

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from bot.app import run_forever
from bot.components import build_intake
from bot.core.errors import ConfigError
from bot.doctor import _imap
from bot.mail.imap import MailboxReader, login
from bot.mail.oauth import TokenError, TokenSource
from bot.service import Services
from bot.settings import Mailbox
from storage import models as m
from tests import servers
from tests.conftest import _unavailable
from tests.helpers import email_bytes, settings_for
from tests.oauth_server import OAuthServer

pytestmark = pytest.mark.dovecot


@pytest.fixture(scope="module")
def oauth():
    server = OAuthServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def oauth_dovecot(oauth):
    try:
        dovecot = servers.start_dovecot(oauth_introspection_url=oauth.introspection_url)
    except Exception as exc:  # noqa: BLE001
        _unavailable("Dovecot", exc)
    yield dovecot
    dovecot.stop()


def mailbox(dovecot, oauth, name, monkeypatch, refresh=False, folder=None, **over) -> Mailbox:
    monkeypatch.setenv("TEST_IMAP_CLIENT_SECRET", oauth.client_secret)
    monkeypatch.setenv("TEST_IMAP_REFRESH", oauth.refresh_token)
    spec = {"token_url": oauth.token_url, "client_id": oauth.client_id, "client_secret_env": "TEST_IMAP_CLIENT_SECRET",
            "scope": "https://outlook.office365.com/.default"}
    if refresh:
        spec.update(refresh_token_env="TEST_IMAP_REFRESH", scope="")
    spec.update(over)
    return Mailbox(name=name, host="127.0.0.1", port=dovecot.port, tls=False, username=dovecot.user, auth="oauth2",
                   oauth2=spec, folder=folder or f"In-{name}", processed_folder=f"Done-{name}", quarantine_folder=f"Q-{name}",
                   poll_seconds=0.5)


def fill(dovecot, folder, raws):
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False) as c:
        c.login(dovecot.user, dovecot.password)
        if not c.folder_exists(folder):
            c.create_folder(folder)
        for raw in raws:
            c.append(folder, raw)


@pytest.mark.parametrize("refresh", [False, True], ids=["client_credentials", "refresh_token"])
async def test_reader_logs_in_with_xoauth2_and_takes_the_backlog(oauth_dovecot, oauth, store, db_url, monkeypatch,
                                                                 refresh):
    engine, factory = store
    name = f"o{'r' if refresh else 'c'}{db_url[:6].replace(':', '')}"
    mb = mailbox(oauth_dovecot, oauth, name, monkeypatch, refresh=refresh)
    fill(oauth_dovecot, mb.folder, [email_bytes(subject=f"damp {i}", message_id=f"<oauth-{name}-{i}@example.org>")
                                    for i in range(5)])
    before = len(oauth.grants)
    stop = threading.Event()
    reader = MailboxReader(mb, build_intake(settings_for(db_url), Services(factory)), factory,
                           asyncio.get_running_loop(), stop)
    reader.start()
    try:
        for _ in range(400):
            async with factory() as s:
                if len((await s.execute(m.Case.__table__.select())).all()) == 5:
                    break
            await asyncio.sleep(0.05)
        else:
            pytest.fail(f"backlog not taken in; reconnects {reader.stats.reconnects}")
    finally:
        stop.set()
        await asyncio.to_thread(reader.thread.join, 15)
    grants = oauth.grants[before:]
    assert len(grants) == 1 == reader.tokens.fetched  # one token, reused while valid
    assert grants[0]["grant_type"] == ("refresh_token" if refresh else "client_credentials")
    assert grants[0]["client_secret"] == oauth.client_secret
    if refresh:
        assert grants[0]["refresh_token"] == oauth.refresh_token and "scope" not in grants[0]
    else:
        assert grants[0]["scope"] == "https://outlook.office365.com/.default"
    assert "method=XOAUTH2" in oauth_dovecot.log()


async def test_a_revoked_token_is_forgotten_and_the_next_login_gets_a_new_one(oauth_dovecot, oauth, monkeypatch):
    mb = mailbox(oauth_dovecot, oauth, "revoked", monkeypatch)
    tokens = TokenSource(mb.oauth2, mb.name)
    with IMAPClient("127.0.0.1", port=oauth_dovecot.port, ssl=False) as c:
        login(c, mb, tokens)
    first = tokens.token()
    oauth.revoke_all()  # e.g. the app's consent withdrawn, or the token revoked by an administrator
    c = IMAPClient("127.0.0.1", port=oauth_dovecot.port, ssl=False)
    with pytest.raises(LoginError):
        login(c, mb, tokens)
    c.shutdown()
    with IMAPClient("127.0.0.1", port=oauth_dovecot.port, ssl=False) as c:
        login(c, mb, tokens)  # the reconnect after the reader's backoff
    assert tokens.token() != first and tokens.fetched == 2


async def test_a_token_near_expiry_is_renewed(oauth, monkeypatch, oauth_dovecot):
    mb = mailbox(oauth_dovecot, oauth, "expiry", monkeypatch)
    oauth.expires_in = 30  # shorter than the one-minute renewal margin: every request gets a new token
    try:
        tokens = TokenSource(mb.oauth2, mb.name)
        assert tokens.token() != tokens.token() and tokens.fetched == 2
    finally:
        oauth.expires_in = 3600


async def test_a_refused_client_is_a_clear_error_and_doctor_says_what_to_check(oauth, oauth_dovecot, monkeypatch):
    mb = mailbox(oauth_dovecot, oauth, "refused", monkeypatch, folder="INBOX")
    monkeypatch.setenv("TEST_IMAP_CLIENT_SECRET", "wrong")
    with pytest.raises(TokenError, match="refused the client_credentials grant: HTTP 401 invalid_client"):
        TokenSource(mb.oauth2, mb.name).token()
    check = _imap(mb)
    assert check.ok is False and "invalid_client" in check.line() and "IMAP.AccessAsApp" in check.line()
    monkeypatch.setenv("TEST_IMAP_CLIENT_SECRET", oauth.client_secret)
    assert _imap(mb).ok is True


def test_settings_need_the_oauth2_table_and_an_https_token_url():
    base = dict(name="x", host="h", username="u", auth="oauth2")
    with pytest.raises(ValueError, match="needs an \\[imap.mailboxes.oauth2\\] table"):
        Mailbox(**base)
    for url in ("http://login.example.com/token", "http://localhost.attacker.example/token", "https:///token"):
        with pytest.raises(ValueError, match="must be an https:// URL"):
            Mailbox(**base, oauth2={"token_url": url, "client_id": "c"})


async def test_the_bot_will_not_start_without_the_secrets_its_mailboxes_need(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", imap={"mailboxes": [{
        "name": "hosted", "host": "outlook.office365.com", "username": "complaints@landlord.org.uk",
        "auth": "oauth2", "oauth2": {"token_url": "https://login.microsoftonline.com/t/oauth2/v2.0/token",
                                     "client_id": "c", "client_secret_env": "NOPE_SECRET"}}]})
    with pytest.raises(ConfigError, match=r"not set in the environment: NOPE_SECRET \(imap mailbox hosted\)"):
        await run_forever(settings)


async def test_a_rotated_refresh_token_is_used_for_the_next_refresh(oauth, oauth_dovecot, monkeypatch):
    mb = mailbox(oauth_dovecot, oauth, "rotating", monkeypatch, refresh=True)
    oauth.rotate, oauth.expires_in, first_refresh = True, 30, oauth.refresh_token  # 30 s: renewed every time
    try:
        tokens = TokenSource(mb.oauth2, mb.name)
        tokens.token()
        tokens.token()  # the provider retired the refresh token from the environment after the first use
        used = [g["refresh_token"] for g in oauth.grants[-2:]]
        assert used[0] == first_refresh and used[1] != first_refresh and tokens.fetched == 2
        with IMAPClient("127.0.0.1", port=oauth_dovecot.port, ssl=False) as c:
            login(c, mb, tokens)
    finally:
        oauth.rotate, oauth.expires_in, oauth.refresh_token = False, 3600, first_refresh
