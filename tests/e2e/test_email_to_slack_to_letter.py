"""End to end through `run_forever`: an email arrives over SMTP, its card is posted to Slack, a team lead
confirms it over HTTP (signed), the clocks start and the acknowledgement reaches the outbound relay."""

import asyncio
import json
import smtplib

import aiohttp

from bot.app import run_forever
from tests.helpers import email_bytes, settings_for, start_sink
from tests.slack_mock import SECRET, SlackMock, payload_body, signed


async def test_email_card_confirm_clock_and_acknowledgement(store, db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    mock = SlackMock()
    await mock.start()
    sink, controller = start_sink()
    settings = settings_for(db_url, bot={"data_dir": str(tmp_path)},
                            relay={"host": "127.0.0.1", "port": controller.port, "starttls": False},
                            slack={"triage_channel": "CTRIAGE", "team_leads": ["ULEAD"], "api_base_url": mock.url,
                                   "http_port": 0})
    stop = asyncio.Event()
    ready: asyncio.Future = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_forever(settings, on_ready=ready.set_result, stop=stop))
    try:
        running = await asyncio.wait_for(ready, 30)
        smtp_port = running.smtp_server.sockets[0].getsockname()[1]

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", smtp_port) as c:
                c.sendmail("resident@example.org", ["complaints@localhost"],
                           email_bytes(message_id="<e2e@example.org>", subject="Nobody fixed my window",
                                       body="Third time I've reported the broken window. Nobody came."))
        await asyncio.to_thread(send)
        for _ in range(100):
            cards = [c for c in mock.of("chat.postMessage")
                     if c.get("channel") == "CTRIAGE" and "new message for triage" in c.get("text", "")]
            if cards:
                break
            await asyncio.sleep(0.05)
        assert cards, "no card was posted"
        reference = cards[0]["text"].split(":")[0]

        body = payload_body({"type": "block_actions", "user": {"id": "ULEAD"}, "team": {"id": "T1"},
                             "api_app_id": "A1", "token": "x", "trigger_id": "t", "channel": {"id": "CTRIAGE"},
                             "actions": [{"action_id": "decide_complaint", "block_id": "b", "type": "button",
                                          "value": reference}]})
        headers = {k: v[0] for k, v in signed(body, "application/x-www-form-urlencoded").items()}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{running.slack.port}/slack/events", data=body,
                                 headers=headers) as resp:
                assert resp.status == 200

        for _ in range(200):  # the relay receives the receipt and then the acknowledgement
            if len(sink.received) >= 2:
                break
            await asyncio.sleep(0.05)
        subjects = [msg["Subject"] for _, _, msg in sink.received]
        assert len(subjects) == 2 and all(reference in s for s in subjects)
        bodies = [msg.get_body(("plain",)).get_content() for _, _, msg in sink.received]
        assert "acknowledge your complaint" in bodies[1]
        shown = await running.intake.services.show(reference)
        for _ in range(100):
            shown = await running.intake.services.show(reference)
            if shown["status"] == "acknowledged":
                break
            await asyncio.sleep(0.05)
        assert shown["status"] == "acknowledged" and shown["clocks"][0]["acknowledged_on"]
        assert shown["deadlines"]["respond"]
        assert any("decided by <@ULEAD>" in json.dumps(u["blocks"]) for u in mock.of("chat.update"))
        threads = [c["text"] for c in mock.of("chat.postMessage") if c.get("thread_ts")]
        assert any("Acknowledgement sent" in t for t in threads)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
        controller.stop()
        await mock.stop()
