"""Block Kit for triage cards, modals and digests. Every piece of resident or staff text is escaped, so a
message cannot ping @channel, mention a user or disguise a link."""

from __future__ import annotations

from typing import Any

from bot.core.policy import REASONS

LABEL_NAMES = {"complaint": "Complaint", "service_request": "Service request", "excluded": "Excluded",
               "not_a_case": "Not a case", None: "no suggestion"}


def escape(text: Any) -> str:
    """Slack's three control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return str(text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def excerpt(text: str | None, limit: int) -> str:
    if limit <= 0:
        return "_(text hidden: open the case to read it)_"
    text = " ".join((text or "").split())
    return escape(text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …")


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text[:75], "emoji": False}


def _signals(s: dict) -> str:
    bits = []
    if s.get("urgent_hazard"):
        bits.append(f":rotating_light: *urgent hazard: {escape(s['urgent_hazard']).replace('_', ' ')}*")
    if s.get("escalation_request"):
        bits.append(":arrow_double_up: escalation request")
    if s.get("representative"):
        bits.append(f":bust_in_silhouette: representative: {escape(s['representative'])}")
    if s.get("anonymous"):
        bits.append(":grey_question: anonymous")
    if s.get("case_reference"):
        bits.append(f"ref {escape(s['case_reference'])}")
    return " · ".join(bits) or "no signals"


def triage_card(case: dict, text: str | None, excerpt_chars: int) -> list[dict]:
    """The card for a new case: who, how, what, the suggestion and why, and the decision buttons."""
    ref = case["reference"]
    reading = case.get("suggestion") or {}
    suggestion = reading.get("suggestion") or {}
    who = escape(case.get("resident_name") or case.get("sender") or "unknown")
    via = escape(case.get("channel"))
    passed = f" · passed on by {escape(case['passed_on_by'])}" if case.get("passed_on_by") else ""
    label = suggestion.get("label") or case.get("suggested_label")
    reason = suggestion.get("reason") or case.get("suggested_reason")
    conf = reading.get("confidence")
    suggestion_line = f"*Suggested:* {LABEL_NAMES.get(label, escape(label))}"
    if reason:
        suggestion_line += f" ({escape(reason).replace('_', ' ')})"
    if conf is not None:
        suggestion_line += f" · confidence {conf:.2f}"
    if suggestion.get("needs_review"):
        suggestion_line += " · :warning: needs review"
    why = " · ".join(escape(w) for w in (reading.get("why") or [])[:6])
    blocks: list[dict] = [
        {"type": "header", "text": _plain(f"{ref} · {LABEL_NAMES.get(label, 'New message')}")},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*From:* {who} via {via}{passed}\n"
                                     f"*Received:* {escape(case.get('received_at', '')[:16].replace('T', ' '))} UTC"
                                     + (f"\n*Subject:* {escape(case['subject'])}" if case.get("subject") else "")}},
        {"type": "section", "text": {"type": "mrkdwn", "text": excerpt(text, excerpt_chars) or "_(no text)_"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": suggestion_line + "\n" + _signals(reading.get("signals") or {})}},
    ]
    if why:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": why[:2900]}]})
    blocks.append({"type": "actions", "block_id": f"decide:{ref}", "elements": [
        {"type": "button", "action_id": "decide_complaint", "text": _plain("Confirm complaint"), "value": ref,
         "style": "primary"},
        {"type": "button", "action_id": "decide_service_request", "text": _plain("Service request"), "value": ref},
        {"type": "static_select", "action_id": "decide_excluded", "placeholder": _plain("Excluded: reason…"),
         "options": [{"text": _plain(r.replace("_", " ")), "value": f"{ref}|{r}"} for r in REASONS]},
        {"type": "button", "action_id": "decide_not_a_case", "text": _plain("Not a case"), "value": ref},
        {"type": "button", "action_id": "open_case", "text": _plain("Open"), "value": ref},
    ]})
    return blocks


def decided_card(case: dict, text: str | None, excerpt_chars: int, by_user: str) -> list[dict]:
    """The card once a team lead has decided: the decision, who made it, and the due dates."""
    blocks = [b for b in triage_card(case, text, excerpt_chars) if b["type"] != "actions"]
    decision = LABEL_NAMES.get(case.get("confirmed_label"), escape(case.get("confirmed_label")))
    if case.get("confirmed_reason"):
        decision += f" ({escape(case['confirmed_reason']).replace('_', ' ')})"
    due = ", ".join(f"{escape(k).replace('_', ' ')} by {escape(v)}" for k, v in (case.get("deadlines") or {}).items() if v)
    blocks[0] = {"type": "header", "text": _plain(f"{case['reference']} · {decision}")}
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text":
                   f":white_check_mark: *{decision}* decided by <@{by_user}>" + (f"\n*Due:* {due}" if due else "")}})
    blocks.append({"type": "actions", "elements": [
        {"type": "button", "action_id": "open_case", "text": _plain("Open"), "value": case["reference"]}]})
    return blocks


def case_modal(case: dict, messages: list[dict]) -> dict:
    """The full text of a case in a modal ('Open')."""
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text":
                           f"*{case['reference']}* · {escape(case['status'])} · stage {case['stage']} · policy "
                           f"{escape(case['policy'])}"}}]
    for msg in messages[-5:]:
        body = escape(msg.get("text") or "")[:2800]
        blocks.append({"type": "divider"})
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text":
                       f"*{escape(msg.get('role'))}* from {escape(msg.get('sender'))} at "
                       f"{escape((msg.get('received_at') or '')[:16])}\n{body or '_(no text)_'}"}})
    return {"type": "modal", "title": _plain(case["reference"][:24]), "close": _plain("Close"), "blocks": blocks[:100]}


def consent_prompt(reference: str, representative: str) -> list[dict]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text":
         f"{reference} came from a representative ({escape(representative)}). The policy needs the resident's "
         "permission for them to act before we respond. Is their consent recorded?"}},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "decide_complaint_with_consent", "style": "primary",
             "text": _plain("Consent recorded: confirm complaint"), "value": reference}]},
    ]


def complaint_modal() -> dict:
    """/complaint: log a complaint made by phone or in person."""
    def text_input(block: str, label: str, multiline: bool = False, optional: bool = False, hint: str = "") -> dict:
        block_def = {"type": "input", "block_id": block, "optional": optional, "label": _plain(label),
                     "element": {"type": "plain_text_input", "action_id": "value", "multiline": multiline}}
        if hint:
            block_def["hint"] = _plain(hint)
        return block_def
    return {
        "type": "modal", "callback_id": "log_complaint", "title": _plain("Log a complaint"),
        "submit": _plain("Log it"), "close": _plain("Cancel"),
        "blocks": [
            text_input("resident_name", "Resident's name"),
            text_input("contact", "Email or phone", hint="Letters go to the email address if there is one"),
            text_input("address", "Address", optional=True),
            text_input("what_happened", "What happened", multiline=True),
            {"type": "input", "block_id": "when", "optional": True, "label": _plain("When it happened"),
             "element": {"type": "datepicker", "action_id": "value"}},
            text_input("wanted", "What they want done", multiline=True, optional=True),
            {"type": "input", "block_id": "representative", "optional": True, "label": _plain("Made by a representative?"),
             "element": {"type": "static_select", "action_id": "value", "options": [
                 {"text": _plain(t), "value": v} for t, v in (("No, the resident", "none"), ("MP", "mp"),
                                                              ("Councillor", "councillor"),
                                                              ("Advocate, relative or friend", "advocate"))]}},
            text_input("representative_name", "Representative's name", optional=True),
            {"type": "input", "block_id": "consent", "optional": True, "label": _plain("Consent"),
             "element": {"type": "checkboxes", "action_id": "value", "options": [
                 {"text": _plain("The resident has given permission for the representative to act"),
                  "value": "yes"}]}},
        ],
    }


def digest(day: str, sections: dict[str, list[dict]]) -> list[dict]:
    blocks: list[dict] = [{"type": "header", "text": _plain(f"Complaints digest · {day}")}]
    titles = {"due": "Due in the next 3 working days", "holding": "Holding responses due",
              "overdue": "Overdue", "unconfirmed": "Suggestions waiting more than a day"}
    for key, title in titles.items():
        items = sections.get(key, [])
        lines = [f"• *{c['reference']}* {escape(c.get('status', '')).replace('_', ' ')} · "
                 f"{escape(c.get('detail', ''))}" for c in items[:15]]
        more = f"\n…and {len(items) - 15} more" if len(items) > 15 else ""
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text":
                       f"*{title}* ({len(items)})\n" + ("\n".join(lines) if lines else "none") + more}})
    return blocks


