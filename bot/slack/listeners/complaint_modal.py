"""/complaint opens a modal to log a complaint made by phone or in person; its submission is validated and
becomes an inbound message (channel slack) with the member of staff as who passed it on."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.intake import Inbound

from .. import cards

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^[+\d][\d\s()-]{6,}$")


def _value(values: dict, block: str) -> Any:
    element = (values.get(block) or {}).get("value") or {}
    if element.get("type") == "static_select":
        return (element.get("selected_option") or {}).get("value")
    if element.get("type") == "datepicker":
        return element.get("selected_date")
    if element.get("type") == "checkboxes":
        return [o.get("value") for o in element.get("selected_options") or []]
    return (element.get("value") or "").strip()


def validate(values: dict) -> dict[str, str]:
    errors = {}
    for block, label in (("resident_name", "the resident's name"), ("contact", "an email address or phone number"),
                         ("what_happened", "what happened")):
        if not _value(values, block):
            errors[block] = f"Please give {label}."
    contact = _value(values, "contact")
    if contact and not (EMAIL.match(contact) or PHONE.match(contact)):
        errors["contact"] = "That is not an email address or a phone number."
    rep = _value(values, "representative")
    if rep and rep != "none" and not _value(values, "representative_name"):
        errors["representative_name"] = "Please give the representative's name."
    when = _value(values, "when")
    if when and dt.date.fromisoformat(when) > dt.date.today():
        errors["when"] = "That date is in the future."
    return errors


def register(app: AsyncApp, ctx: Any) -> None:
    @app.command("/complaint")
    async def open_modal(ack: Any, body: dict) -> None:
        await ack()
        await ctx.client.views_open(trigger_id=body["trigger_id"], view=cards.complaint_modal())

    @app.view("log_complaint")
    async def submitted(ack: Any, body: dict, view: dict) -> None:
        values = view["state"]["values"]
        errors = validate(values)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        staff = body["user"]["id"]
        contact = _value(values, "contact")
        rep = _value(values, "representative")
        rep = None if rep in (None, "", "none") else rep
        parts = [f"Logged by phone/in person by <@{staff}>.", f"Resident: {_value(values, 'resident_name')}",
                 f"Contact: {contact}"]
        if _value(values, "address"):
            parts.append(f"Address: {_value(values, 'address')}")
        if _value(values, "when"):
            parts.append(f"When it happened: {_value(values, 'when')}")
        parts.append(f"What happened: {_value(values, 'what_happened')}")
        if _value(values, "wanted"):
            parts.append(f"What they want done: {_value(values, 'wanted')}")
        if rep:
            parts.append(f"Made by {rep} {_value(values, 'representative_name')}; consent recorded: "
                         f"{'yes' if 'yes' in (_value(values, 'consent') or []) else 'no'}")
        msg = Inbound(identity=f"slack:modal:{view['id']}", channel="slack", source="slack:complaint-form",
                      received_at=dt.datetime.now(dt.timezone.utc), text="\n".join(parts), sender=staff,
                      forwarded_by=f"slack:{staff}", complainant=contact if EMAIL.match(contact or "") else None,
                      complainant_name=_value(values, "resident_name"), subject=None,
                      extra={"representative": rep, "consent": "yes" in (_value(values, "consent") or []),
                             "address": _value(values, "address"), "incident_date": _value(values, "when")})
        await ctx.intake.take(msg, raw=None)
