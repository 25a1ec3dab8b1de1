"""The Bolt app with signed requests dispatched in, and a local mock of the Slack Web API recording calls."""

import datetime as dt
import json

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from sqlalchemy import select

from bot.components import build_intake
from bot.service import Services
from bot.slack.app import build
from storage import models as m
from tests.helpers import settings_for
from tests.slack_mock import SECRET, SlackMock, command_body, event_body, payload_body, signed

UTC = dt.timezone.utc


@pytest.fixture
async def slack(store, db_url, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    mock = SlackMock()
    await mock.start()
    engine, factory = store
    settings = settings_for(db_url, slack={"triage_channel": "CTRIAGE", "intake_channels": ["CINTAKE"],
                                           "team_leads": ["ULEAD"], "team_lead_group": "SLEADS",
                                           "api_base_url": mock.url, "excerpt_chars": 200})
    services = Services(factory)
    intake = build_intake(settings, services)
    app, ctx = build(settings, services, intake, process_before_response=True)

    class S:
        pass
    s = S()
    s.mock, s.app, s.ctx, s.services, s.factory, s.settings, s.intake = mock, app, ctx, services, factory, settings, intake

    async def send(body: str, content_type: str, **kw):
        return await app.async_dispatch(AsyncBoltRequest(body=body, headers=signed(body, content_type, **kw)))
    s.send = send
    s.event = lambda event, event_id: send(event_body(event, event_id), "application/json")
    s.payload = lambda payload: send(payload_body(payload), "application/x-www-form-urlencoded")
    s.command = lambda cmd, text, **kw: send(command_body(cmd, text, **kw), "application/x-www-form-urlencoded")
    yield s
    await mock.stop()


def msg_event(text, ts="1772445600.000100", channel="CINTAKE", user="USTAFF", **extra):
    return {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, **extra}


def click(action_id, value, user="ULEAD", **extra):
    action = {"action_id": action_id, "block_id": "b", "type": "button", "value": value, **extra}
    return {"type": "block_actions", "user": {"id": user, "username": user}, "team": {"id": "T1"},
            "api_app_id": "A1", "token": "x", "trigger_id": "trig-2", "channel": {"id": "CTRIAGE"},
            "container": {"type": "message", "channel_id": "CTRIAGE", "message_ts": "1"}, "actions": [action]}


async def cases(factory):
    async with factory() as s:
        return list((await s.execute(select(m.Case).order_by(m.Case.id))).scalars())


async def test_intake_channel_message_becomes_a_case_with_a_card_once(slack):
    ev = msg_event("Mrs Ayodele rang: the lift at Holm Tower has been out for a week and nobody has called her back.")
    resp = await slack.event(ev, "Ev1")
    assert resp.status == 200
    await slack.event(ev, "Ev1")  # Slack's retry of the same event
    [case] = await cases(slack.factory)
    assert (case.channel, case.passed_on_by, case.status) == ("slack", "slack:USTAFF", "received")
    [card] = slack.mock.of("chat.postMessage")
    assert card["channel"] == "CTRIAGE" and case.slack_ts
    action_ids = [e["action_id"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert action_ids == ["decide_complaint", "decide_service_request", "decide_excluded", "decide_not_a_case",
                          "open_case"]
    text = json.dumps(card["blocks"])
    assert case.reference in text and "Holm Tower" in text


async def test_bot_messages_are_ignored_edits_update_deletions_keep(slack):
    await slack.event(msg_event("from a bot", bot_id="B1", subtype="bot_message", ts="1.1"), "EvB")
    assert await cases(slack.factory) == []
    await slack.event(msg_event("first version", ts="2.2"), "Ev2")
    await slack.event({"type": "message", "subtype": "message_changed", "channel": "CINTAKE", "ts": "2.3",
                       "message": {"type": "message", "user": "USTAFF", "text": "second version", "ts": "2.2"}}, "Ev3")
    await slack.event({"type": "message", "subtype": "message_deleted", "channel": "CINTAKE", "ts": "2.4",
                       "deleted_ts": "2.2"}, "Ev4")
    async with slack.factory() as s:
        [msg] = (await s.execute(select(m.InboundMessage))).scalars().all()
        kinds = (await s.execute(select(m.Event.kind).order_by(m.Event.id))).scalars().all()
    assert msg.text == "second version"
    assert kinds == ["received", "source_edited", "source_deleted"]


async def test_only_team_leads_decide_and_a_decision_updates_everything(slack):
    await slack.event(msg_event("Caller says nobody came to fix her boiler despite three appointments."), "Ev5")
    [case] = await cases(slack.factory)
    await slack.payload(click("decide_complaint", case.reference, user="UNOBODY"))
    [refusal] = slack.mock.of("chat.postEphemeral")
    assert refusal["user"] == "UNOBODY" and "Only team leads" in refusal["text"] and "<@ULEAD>" in refusal["text"]
    assert (await cases(slack.factory))[0].status == "received"

    resp = await slack.payload(click("decide_complaint", case.reference, user="ULEAD"))
    assert resp.status == 200
    [case] = await cases(slack.factory)
    assert case.status == "complaint" and case.decided_by == "Amira Shah (ULEAD)"
    [update] = slack.mock.of("chat.update")
    assert update["ts"] == case.slack_ts and "decided by <@ULEAD>" in json.dumps(update["blocks"])
    assert not any(b["type"] == "actions" and b["elements"][0]["action_id"] == "decide_complaint"
                   for b in update["blocks"])
    thread = [p for p in slack.mock.of("chat.postMessage") if p.get("thread_ts") == case.slack_ts]
    assert thread and "Decided by <@ULEAD>: a complaint" in thread[-1]["text"]
    async with slack.factory() as s:
        events = (await s.execute(select(m.Event).where(m.Event.kind == "decided"))).scalars().all()
    assert events[0].channel == "slack" and events[0].actor == "Amira Shah (ULEAD)"


async def test_user_group_members_may_decide_and_exclusion_takes_a_reason(slack):
    await slack.event(msg_event("Resident says next door's dog barks all night."), "Ev6")
    [case] = await cases(slack.factory)
    payload = click("decide_excluded", None, user="UGROUPLEAD")
    payload["actions"][0] = {"action_id": "decide_excluded", "block_id": "b", "type": "static_select",
                             "selected_option": {"text": {"type": "plain_text", "text": "x"},
                                                 "value": f"{case.reference}|neighbour_dispute"}}
    await slack.payload(payload)
    [case] = await cases(slack.factory)
    assert (case.status, case.confirmed_reason) == ("excluded", "neighbour_dispute")


async def test_representative_without_consent_is_asked_for_it(slack):
    from bot.core.intake import Inbound
    await slack.intake.take(Inbound(identity="rep-1", channel="email", source="test", received_at=dt.datetime.now(UTC),
                                    text="I write on behalf of my constituent.", sender="mp@example.org",
                                    complainant="mp@example.org", extra={"representative": "mp"}))
    [case] = await cases(slack.factory)
    assert case.representative == "mp" and not case.representative_consent
    await slack.payload(click("decide_complaint", case.reference))
    prompt = slack.mock.of("chat.postEphemeral")[-1]
    assert "consent" in json.dumps(prompt["blocks"]).lower()
    assert (await cases(slack.factory))[0].status == "received"
    await slack.payload(click("decide_complaint_with_consent", case.reference))
    [case] = await cases(slack.factory)
    assert case.status == "complaint" and case.representative_consent


async def test_shortcut_sends_any_message_to_triage(slack):
    payload = {"type": "message_action", "callback_id": "send_to_triage", "trigger_id": "t", "team": {"id": "T1"},
               "user": {"id": "USTAFF2"}, "channel": {"id": "CRANDOM"}, "message_ts": "3.3", "token": "x",
               "message": {"type": "message", "user": "URES", "ts": "3.3", "text": "my heating is off again!!"}}
    await slack.payload(payload)
    [case] = await cases(slack.factory)
    assert case.passed_on_by == "slack:USTAFF2"
    assert "Sent to complaints triage as" in slack.mock.of("chat.postEphemeral")[-1]["text"]


def view_submission(values: dict) -> dict:
    state = {}
    for block, value in values.items():
        if block == "when":
            state[block] = {"value": {"type": "datepicker", "selected_date": value}}
        elif block == "representative":
            state[block] = {"value": {"type": "static_select", "selected_option": {"value": value}}}
        else:
            state[block] = {"value": {"type": "plain_text_input", "value": value}}
    return {"type": "view_submission", "team": {"id": "T1"}, "user": {"id": "USTAFF"}, "api_app_id": "A1",
            "token": "x", "trigger_id": "t", "view": {"id": "V123", "callback_id": "log_complaint", "type": "modal",
                                                      "state": {"values": state}}}


async def test_complaint_command_opens_a_modal_and_validates_the_submission(slack):
    await slack.command("/complaint", "")
    [opened] = slack.mock.of("views.open")
    assert opened["view"]["callback_id"] == "log_complaint"
    resp = await slack.payload(view_submission({"resident_name": "Joan Pike", "contact": "not a contact",
                                                "what_happened": ""}))
    body = json.loads(resp.body)
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"contact", "what_happened"}
    assert await cases(slack.factory) == []
    resp = await slack.payload(view_submission({"resident_name": "Joan Pike", "contact": "joan.pike@example.org",
                                                "what_happened": "Rude operative, left mess.", "when": "2026-03-01",
                                                "representative": "none"}))
    assert resp.status == 200 and not resp.body
    [case] = await cases(slack.factory)
    assert case.resident_email == "joan.pike@example.org" and case.resident_name == "Joan Pike"


async def test_bad_signature_and_old_timestamp_are_refused(slack):
    body = event_body(msg_event("forged"), "EvX")
    from slack_bolt.request.async_request import AsyncBoltRequest
    bad = await slack.app.async_dispatch(AsyncBoltRequest(body=body, headers=signed(body, "application/json",
                                                                                    secret="wrong")))
    old = await slack.app.async_dispatch(AsyncBoltRequest(body=body, headers=signed(body, "application/json",
                                                                                    timestamp=1_600_000_000)))
    assert bad.status == 401 and old.status == 401
    assert await cases(slack.factory) == []


async def test_resident_text_cannot_ping_mention_or_disguise_links(slack):
    evil = "<!channel> <@U999> look <http://evil.example|your-landlord.gov.uk> & more"
    await slack.event(msg_event(evil), "Ev7")
    card = json.dumps(slack.mock.of("chat.postMessage")[0]["blocks"])
    assert "<!channel>" not in card and "<@U999>" not in card and "<http://evil" not in card
    assert "&lt;!channel&gt;" in card and "&amp; more" in card


async def test_thread_replies_on_a_card_become_notes(slack):
    await slack.event(msg_event("Leak under the sink, first time."), "Ev8")
    [case] = await cases(slack.factory)
    await slack.event(msg_event("Spoke to her, plumber booked Tuesday.", channel="CTRIAGE", ts="9.9",
                                thread_ts=case.slack_ts, user="ULEAD"), "Ev9")
    shown = await slack.services.show(case.reference)
    assert [m_["role"] for m_ in shown["messages"]] == ["new_case", "note"]
    assert shown["history"][-1]["kind"] == "note"


async def test_complaints_command_answers_ephemerally(slack):
    await slack.event(msg_event("Complaint: operative swore at my son."), "Ev10")
    [case] = await cases(slack.factory)
    await slack.command("/complaints", f"case {case.reference}", user="USOMEONE")
    answer = slack.mock.of("chat.postEphemeral")[-1]
    assert answer["user"] == "USOMEONE" and case.reference in answer["text"]
    await slack.command("/complaints", "nonsense")
    assert "Usage" in slack.mock.of("chat.postEphemeral")[-1]["text"]


async def test_digest_posts_on_working_days_only(slack):
    from bot.scheduler import Scheduler
    posted = []

    async def post(text, blocks):
        posted.append(blocks)
    at = lambda y, mo, d, h: (lambda: dt.datetime(y, mo, d, h, tzinfo=UTC))  # noqa: E731
    assert "digest" not in await Scheduler(slack.settings, slack.services, post, at(2026, 4, 6, 10)).tick()  # Easter Monday
    assert "digest" not in await Scheduler(slack.settings, slack.services, post, at(2026, 3, 7, 10)).tick()  # Saturday
    assert "digest" not in await Scheduler(slack.settings, slack.services, post, at(2026, 3, 9, 7)).tick()   # 07:00, too early
    ran = await Scheduler(slack.settings, slack.services, post, at(2026, 3, 9, 10)).tick()
    assert "digest" in ran and "weekly_summary" in ran  # Monday 9 March: digest and last week's summary
    assert "digest" not in await Scheduler(slack.settings, slack.services, post, at(2026, 3, 9, 11)).tick()  # once a day
    assert "weekly_summary" not in await Scheduler(slack.settings, slack.services, post, at(2026, 3, 10, 11)).tick()
    assert len(posted) == 3 and "Complaints digest" in json.dumps(posted[0])  # Monday, weekly, Tuesday
    assert "Complaints last week" in json.dumps(posted[1]) and "2026-03-02 to 2026-03-08" in json.dumps(posted[1])


async def test_breaches_are_posted_once_in_the_cards_thread(slack):
    from bot.scheduler import Scheduler
    from bot.core.intake import Inbound
    await slack.intake.take(Inbound(identity="old-1", channel="email", source="test", text="Leak again, 4th time.",
                                    received_at=dt.datetime(2026, 3, 2, 10, tzinfo=UTC), sender="r@example.org",
                                    complainant="r@example.org"))
    [case] = await cases(slack.factory)
    await slack.services.decide(case.reference, "complaint", by="lead", at=dt.datetime(2026, 3, 2, 11, tzinfo=UTC))
    sched = Scheduler(slack.settings, slack.services, None, lambda: dt.datetime(2026, 3, 12, 10, tzinfo=UTC))
    assert "deadline_watch" in await sched.tick()
    sched2 = Scheduler(slack.settings, slack.services, None, lambda: dt.datetime(2026, 3, 13, 10, tzinfo=UTC))
    await sched2.tick()
    threads = [c["text"] for c in slack.mock.of("chat.postMessage") if c.get("thread_ts")]
    assert sum("Deadline breached: acknowledge" in t for t in threads) == 1


async def test_corrections_export_writes_training_records(slack, tmp_path):
    from click.testing import CliRunner
    from bot.cli import main
    from bot.core.intake import Inbound
    await slack.intake.take(Inbound(identity="c-1", channel="email", source="test", text="noise from next door",
                                    received_at=dt.datetime(2026, 3, 2, 10, tzinfo=UTC), sender="r@example.org"))
    [case] = await cases(slack.factory)
    async with slack.factory.begin() as s:  # as the classifier would have suggested
        row = await s.get(m.Case, case.id)
        row.suggested_label, row.status = "complaint", "triaged"
    await slack.services.decide(case.reference, "excluded", reason="neighbour_dispute", by="lead")
    cfg = tmp_path / "bot.toml"
    cfg.write_text(f'[database]\nurl = "{slack.settings.database_url}"\n')
    result = await __import__("asyncio").to_thread(CliRunner().invoke, main, ["--config", str(cfg), "corrections",
                                                                              "export"])
    [line] = [l for l in result.output.splitlines() if l.startswith("{")]
    record = json.loads(line)
    assert (record["label"], record["reason"], record["body"]) == ("excluded", "neighbour_dispute",
                                                                   "noise from next door")
