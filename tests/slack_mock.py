"""A local stand-in for the Slack Web API (aiohttp on port 0) that records every call, and signed requests."""

from __future__ import annotations

import itertools
import json
import time
from urllib.parse import parse_qs, urlencode

from aiohttp import web
from slack_sdk.signature import SignatureVerifier

SECRET = "test-signing-secret"


class SlackMock:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self._ts = itertools.count(1)
        self.group_members = ["UGROUPLEAD"]
        self.runner: web.AppRunner | None = None
        self.url = ""

    def of(self, method: str) -> list[dict]:
        return [params for name, params in self.calls if name == method]

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.method == "GET":
            params = dict(request.query)
        elif request.content_type == "application/json":
            params = await request.json()
        else:
            params = {k: v[0] for k, v in parse_qs(await request.text()).items()}
        for key in ("blocks", "view"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        self.calls.append((method, params))
        extra: dict = {}
        if method == "auth.test":
            extra = {"user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "user": "complaints-bot"}
        elif method == "chat.postMessage":
            extra = {"channel": params.get("channel"), "ts": f"1700000000.{next(self._ts):06d}"}
        elif method == "users.info":
            extra = {"user": {"id": params.get("user"), "real_name": "Amira Shah"}}
        elif method == "usergroups.users.list":
            extra = {"users": self.group_members}
        return web.json_response({"ok": True, **extra})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self.handle)
        app.router.add_get("/api/{method}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/api/"

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


def signed(body: str, content_type: str, secret: str = SECRET, timestamp: int | None = None) -> dict:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    sig = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"content-type": [content_type], "x-slack-signature": [sig], "x-slack-request-timestamp": [ts]}


def event_body(event: dict, event_id: str) -> str:
    return json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": event_id, "event_time": int(time.time()), "event": event})


def payload_body(payload: dict) -> str:
    return urlencode({"payload": json.dumps(payload)})


def command_body(command: str, text: str, user: str = "ULEAD", channel: str = "CTRIAGE") -> str:
    return urlencode({"command": command, "text": text, "user_id": user, "channel_id": channel, "team_id": "T1",
                      "trigger_id": "trig-1", "response_url": "http://127.0.0.1:9/none"})
