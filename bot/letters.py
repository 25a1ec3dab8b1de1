"""Which letter a team lead's decision sends, and what goes in it (queued in the decision's transaction)."""

from __future__ import annotations


from sqlalchemy import select

from storage import models as m
from storage.repository import CaseRecord, Repository

from .core.letters import REASON_TEXT, greeting_name, long_date, summary_of
from .core.lifecycle import Event
from .outbox import LetterConfig, queue_letter


async def _first_text(repo: Repository, case_id: int) -> str:
    text = (await repo.session.execute(
        select(m.InboundMessage.text).where(m.InboundMessage.case_id == case_id).order_by(m.InboundMessage.id)
        .limit(1))).scalar()
    return text or ""


def decision_letter_hook(config: LetterConfig):  # noqa: ANN201
    """A Services.after_decision hook: queue the decision letter for complaint / service request / excluded."""

    async def hook(repo: Repository, record: CaseRecord, event: Event) -> None:
        row, case = record.row, record.case
        decision = event.data["decision"]
        if decision == "not_a_case" or not row.resident_email:
            return
        name = greeting_name(row.resident_name)
        if decision == "complaint":
            # This letter is the formal acknowledgement: the response is due counting from today.
            today = case.calendar.local(event.at).date()
            clock = case.clock
            due = clock.acknowledge(today).deadlines(case.policy, case.calendar) if clock and not clock.acknowledged_on \
                else case.deadlines()
            values = {"name": name, "stage": str(case.stage), "summary": summary_of(await _first_text(repo, row.id)),
                      "respond_by": long_date(due.get("respond")) or "the date set by our policy"}
            await queue_letter(repo.session, config, row, "acknowledgement", "decision_complaint", values,
                               row.resident_email, row.resident_name, now=event.at)
        elif decision == "service_request":
            rule = case.policy.reasons.get(case.confirmed_reason) if case.confirmed_reason else None
            route_to = (rule.route_to if rule and rule.route_to else "the team responsible")
            await queue_letter(repo.session, config, row, "decision", "decision_service_request",
                               {"name": name, "route_to": route_to}, row.resident_email, row.resident_name,
                               now=event.at)
        elif decision == "excluded":
            reason = case.confirmed_reason or ""
            rule = case.policy.reasons.get(reason)
            wait = case.policy.ombudsman_wait_weeks
            values = {"name": name, "reason_text": REASON_TEXT.get(reason, "it falls outside our complaints procedure"),
                      "route_to": (rule.route_to if rule and rule.route_to else "please contact us to discuss it"),
                      "ombudsman": ""}
            if wait:
                values["ombudsman"] = (f" Our policy says the Ombudsman may wait {wait} weeks after our final decision;"
                                       " since 1 October 2022 you no longer have to wait.")
            await queue_letter(repo.session, config, row, "decision", "decision_excluded", values,
                               row.resident_email, row.resident_name, now=event.at)

    return hook


