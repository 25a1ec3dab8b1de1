"""A small OAuth2 authorisation server on loopback for tests: it issues access tokens (client credentials
or refresh-token grant, RFC 6749) to the bot and answers Dovecot's token introspection (RFC 7662), so the
bot's XOAUTH2 login is checked end to end by a real IMAP server."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class OAuthServer:
    client_id: str = "bot-client"
    client_secret: str = "client-secret"
    refresh_token: str = "refresh-1"
    username: str = "bot"
    expires_in: int = 3600
    rotate: bool = False  # refresh-token grant: issue a new refresh token and retire the one used
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch seconds)
    grants: list[dict[str, str]] = field(default_factory=list)  # every token request, for assertions
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    @property
    def introspection_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/introspect"

    def revoke_all(self) -> None:
        self.tokens.clear()

    def start(self) -> "OAuthServer":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if self.path == "/token":
                    owner.grants.append(form)
                    if (form.get("client_id"), form.get("client_secret")) != (owner.client_id, owner.client_secret):
                        return self._reply(401, {"error": "invalid_client"})
                    grant = form.get("grant_type")
                    if grant == "refresh_token" and form.get("refresh_token") != owner.refresh_token:
                        return self._reply(400, {"error": "invalid_grant"})
                    if grant not in ("client_credentials", "refresh_token"):
                        return self._reply(400, {"error": "unsupported_grant_type"})
                    token = secrets.token_urlsafe(24)
                    owner.tokens[token] = time.time() + owner.expires_in
                    body = {"access_token": token, "token_type": "Bearer", "expires_in": owner.expires_in}
                    if grant == "refresh_token" and owner.rotate:
                        owner.refresh_token = body["refresh_token"] = secrets.token_urlsafe(16)
                    return self._reply(200, body)
                if self.path == "/introspect":
                    expiry = owner.tokens.get(form.get("token", ""))
                    if expiry is None or expiry < time.time():
                        return self._reply(200, {"active": False})
                    return self._reply(200, {"active": True, "username": owner.username})
                self._reply(404, {"error": "not_found"})

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
