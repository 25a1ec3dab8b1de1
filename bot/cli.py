"""`python -m bot`: the command line. Each command is a thin shell over settings, services and the core."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from typing import Any, Callable, Coroutine

import click

from . import policies
from .core.errors import BotError, ConfigError


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def _emit(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


class BotGroup(click.Group):
    """Turns the bot's own errors into one clear line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BotError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=BotGroup)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="BOT_CONFIG",
              help="Settings file (default: config/bot.toml; also $BOT_CONFIG).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Complaints intake bot for UK social housing landlords."""
    ctx.obj = {"config": config_path}


def settings_of(ctx: click.Context):
    from .settings import load_settings
    return load_settings(ctx.obj.get("config"))


def services_of(ctx: click.Context):
    """Services over the configured database, after bringing its schema up to date."""
    from storage.db import make_engine, migrate, sessions
    from .service import Services
    settings = settings_of(ctx)

    async def build() -> tuple[Any, Any]:
        engine = make_engine(settings.database_url)
        await migrate(engine)
        return engine, Services(sessions(engine))
    return settings, build


def with_services(fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    """Run an async command body with (settings, services) and dispose of the engine afterwards."""
    @click.pass_context
    def wrapper(ctx: click.Context, **kwargs: Any) -> Any:
        settings, build = services_of(ctx)

        async def go() -> Any:
            engine, services = await build()
            try:
                return await fn(settings, services, **kwargs)
            finally:
                await engine.dispose()
        return _run(go())
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


# -- run -------------------------------------------------------------------------------------------
@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the bot: SMTP listener, IMAP mailboxes, Slack, outbox sender, scheduler (what is configured)."""
    from .app import run_forever
    settings = settings_of(ctx)
    sys.exit(_run(run_forever(settings)))


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Create or upgrade the database schema."""
    from storage.db import make_engine, migrate as do_migrate
    settings = settings_of(ctx)

    async def go() -> str:
        engine = make_engine(settings.database_url)
        try:
            return await do_migrate(engine)
        finally:
            await engine.dispose()
    click.echo(f"schema at revision {_run(go())}")


# -- deadlines and policies ------------------------------------------------------------------------
@main.command()
@click.option("--policy", "policy_name", default=policies.DEFAULT_POLICY, show_default=True)
@click.option("--received", required=True, help="When it was received, ISO-8601 (e.g. 2025-12-24T16:30:00Z).")
@click.option("--stage", type=int, default=1, show_default=True)
@click.option("--region", type=click.Choice(["ENG", "WLS", "SCT", "NIR"]), default=None,
              help="Bank-holiday region (default: the policy's).")
@click.option("--acknowledged", default=None, help="Actual acknowledgement date, YYYY-MM-DD.")
@click.option("--representative", type=click.Choice(["mp", "councillor", "board_member"]), default=None,
              help="Add the policy's clocks for an MP / councillor / board member enquiry.")
def deadlines(policy_name: str, received: str, stage: int, region: str | None, acknowledged: str | None,
              representative: str | None) -> None:
    """When is it due? Prints one JSON object with day 0 and every deadline the policy defines."""
    from .core.clocks import start_stage
    policy = policies.load(policy_name)
    try:
        when: dt.datetime | dt.date = dt.datetime.fromisoformat(received.replace("Z", "+00:00"))
        if "T" not in received and " " not in received:
            when = dt.date.fromisoformat(received)
    except ValueError:
        raise ConfigError(f"--received: not an ISO-8601 date or time ({received!r})") from None
    cal = policy.calendar(region)
    clock = start_stage(policy, stage, when, cal)
    if acknowledged:
        try:
            clock = clock.acknowledge(dt.date.fromisoformat(acknowledged))
        except ValueError:
            raise ConfigError(f"--acknowledged: not a date YYYY-MM-DD ({acknowledged!r})") from None
    due = clock.deadlines(policy, cal, representative)
    click.echo(json.dumps({"policy": policy.id, "stage": stage, "region": cal.region, "start": clock.start.isoformat(),
                           "deadlines": {k: (v.isoformat() if v else None) for k, v in due.items()}}))


@main.group()
def policy() -> None:
    """Policy profiles: list them, show one, check one against the 2024 Code."""


@policy.command("list")
def policy_list() -> None:
    """The profiles in config/policies/."""
    for name in policies.available():
        p = policies.load(name)
        stages = ", ".join(s.name for s in p.formal_stages)
        click.echo(f"{name:20} {p.name}  [{len(p.formal_stages)} stages: {stages}]")


@policy.command("check")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def policy_check(name: str, as_json: bool) -> None:
    """List every departure of profile NAME from the Housing Ombudsman's Code, with the Code's rule."""
    from .core.policy_check import compare
    findings = compare(policies.load(name), policies.load(policies.DEFAULT_POLICY))
    if as_json:
        _emit([f.as_dict() for f in findings])
        return
    departures = [f for f in findings if f.kind == "departure"]
    click.echo(f"{name}: {len(departures)} departure(s) from the Complaint Handling Code 2024")
    for kind in ("departure", "stricter", "note"):
        for f in (f for f in findings if f.kind == kind):
            click.echo(f"\n[{f.kind}] {f.topic}\n  policy: {f.profile}\n  Code:   {f.code}")


@policy.command("show")
@click.argument("name")
def policy_show(name: str) -> None:
    """A profile's stages, targets and reason handling, with sources."""
    p = policies.load(name)
    click.echo(f"{p.id}: {p.name}\nsource: {p.source_document}\nregion: {p.region}  cut-off: {p.cutoff:%H:%M}")
    click.echo(f"time limit: {p.time_limit_months or 'none'} months  anonymous: {p.anonymous}")
    for s in p.stages:
        click.echo(f"\nstage {s.number}: {s.name}{' (informal, no clock)' if s.informal else ''}")
        for t in s.targets.values():
            click.echo(f"  {t.name}: {t.days} working days from {t.counts_from}  [{t.source}]")
        if s.holding_response:
            click.echo(f"  holding response: {s.holding_response.days_before} wd before respond  "
                       f"[{s.holding_response.source}]")
        if s.draft_response:
            click.echo(f"  draft response: {s.draft_response.days_before} wd before respond  [{s.draft_response.source}]")
        click.echo(f"  max extension: {s.max_extension if s.max_extension is not None else 'none stated'}")
    click.echo("\nreasons:")
    for reason, rule in p.reasons.items():
        click.echo(f"  {reason:22} {rule.action:16} {rule.route_to}")


# -- cases -----------------------------------------------------------------------------------------
@main.group()
def cases() -> None:
    """Read cases and record team leads' decisions."""


@cases.command("list")
@click.option("--status", default=None)
@click.option("--due-within", type=int, default=None, help="Working days; overdue cases included.")
@click.option("--json", "as_json", is_flag=True)
@with_services
async def cases_list(settings, services, status: str | None, due_within: int | None, as_json: bool) -> None:
    """Cases, oldest first."""
    rows = await services.list_cases(status=status, due_within=due_within,
                                     calendar=policies.load(settings.bot.policy).calendar(settings.bot.region))
    if as_json:
        _emit(rows)
        return
    if not rows:
        click.echo("no cases")
    for r in rows:
        label = r["confirmed_label"] or (f"{r['suggested_label']}?" if r["suggested_label"] else "-")
        click.echo(f"{r['reference']}  {r['status']:20} stage {r['stage']}  {label:18} due {r['next_due'] or '-':10}"
                   f"  {r['channel']:5}  {r['sender'] or ''}")


@cases.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True)
@with_services
async def cases_show(settings, services, reference: str, as_json: bool) -> None:
    """One case: status, clocks and history."""
    case = await services.show(reference)
    if as_json:
        _emit(case)
        return
    click.echo(f"{case['reference']}  {case['status']}  stage {case['stage']}  policy {case['policy']}")
    click.echo(f"from: {case['sender']} via {case['channel']}  received {case['received_at']}")
    click.echo(f"suggested: {case['suggested_label']} {case['suggested_reason'] or ''}  "
               f"confirmed: {case['confirmed_label'] or '-'} {case['confirmed_reason'] or ''}")
    for c in case["clocks"]:
        click.echo(f"stage {c['stage']} clock: start {c['start']}  " +
                   "  ".join(f"{k} {v}" for k, v in c["deadlines"].items()) +
                   (f"  BREACHED: {', '.join(c['breached'])}" if c["breached"] else ""))
    click.echo("history:")
    for e in case["history"]:
        click.echo(f"  {e['at']}  {e['kind']:20} by {e['actor']} ({e['channel']})")


@cases.command("decide")
@click.argument("reference")
@click.option("--as", "decision", required=True,
              type=click.Choice(["complaint", "service_request", "excluded", "not_a_case"]))
@click.option("--reason", default=None, help="Exclusion reason (required with --as excluded).")
@click.option("--by", "by", required=True, help="The team lead's name.")
@click.option("--consent/--no-consent", default=None, help="Representative's permission to act was recorded.")
@with_services
async def cases_decide(settings, services, reference: str, decision: str, reason: str | None, by: str,
                       consent: bool | None) -> None:
    """Record a team lead's decision (the same code path as the Slack buttons)."""
    out = await services.decide(reference, decision, by=by, reason=reason, consent=consent)
    click.echo(f"{out['reference']}: {out['status']} (decided by {out['decided_by']}); deadlines {out['deadlines']}")


def _lifecycle_command(name: str, action: str, help_text: str, extra: list[click.Option] | None = None) -> None:
    @cases.command(name, help=help_text)
    @click.argument("reference")
    @click.option("--by", "by", required=True, help="Who did it.")
    @with_services
    async def command(settings, services, reference: str, by: str, **kwargs: Any) -> None:
        out = await services.transition(reference, action, by=by, **kwargs)
        click.echo(f"{out['reference']}: {out['status']} stage {out['stage']}; deadlines {out['deadlines']}")
    for opt in extra or []:
        command.params.append(opt)


_lifecycle_command("acknowledge", "acknowledge", "Record that the stage's acknowledgement was sent.")
_lifecycle_command("respond", "respond", "Record the stage's response and its outcome.",
                   [click.Option(["--outcome"], required=True,
                                 type=click.Choice(["upheld", "partly_upheld", "not_upheld", "resolved"]))])
_lifecycle_command("escalate", "request_escalation", "Record the resident's request for the next stage.",
                   [click.Option(["--late-accepted"], is_flag=True, help="Accept a request after the window.")])
_lifecycle_command("extend", "extend", "Extend the response deadline (the policy caps it).",
                   [click.Option(["--days"], type=int, required=True), click.Option(["--reason"], required=True)])
_lifecycle_command("pause", "pause", "Pause the clock (e.g. mediation, where the policy allows it).",
                   [click.Option(["--reason"], required=True)])
_lifecycle_command("resume", "resume", "Resume a paused clock.")
_lifecycle_command("close", "close", "Close the case.")


# -- mail ------------------------------------------------------------------------------------------
@main.command()
@click.argument("file", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def parse(ctx: click.Context, file, as_json: bool) -> None:  # noqa: ANN001
    """Show what the bot understands of one raw email FILE (.eml), without storing it."""
    from .mail.parse import parse_email
    settings = settings_of(ctx)
    parsed = parse_email(file.read(), ours=settings.our_addresses,
                         max_attachment_bytes=settings.attachments.max_bytes)
    out = parsed.as_json()
    if as_json:
        _emit(out)
        return
    click.echo(f"sender:        {parsed.sender}")
    click.echo(f"reply address: {parsed.reply_address}")
    click.echo(f"complainant:   {parsed.complainant}")
    click.echo(f"passed on by:  {parsed.forwarded_by or '-'}")
    click.echo(f"subject:       {parsed.subject}")
    click.echo(f"received:      {parsed.received_at.isoformat()}")
    click.echo(f"case ref:      {parsed.case_reference or '-'}")
    click.echo(f"machine-made:  {parsed.auto_reply or 'no'}")
    click.echo(f"attachments:   {', '.join(f'{a.filename} ({a.content_type}, {a.size} B)' for a in parsed.attachments) or '-'}")
    click.echo(f"\n--- text ---\n{parsed.text}")
    if parsed.signature:
        click.echo(f"\n--- signature ---\n{parsed.signature}")
    if parsed.quoted:
        click.echo(f"\n--- quoted ---\n{parsed.quoted}")


@main.command()
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "failed", "suppressed"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@with_services
async def outbox(settings, services, status: str | None, as_json: bool) -> None:
    """Letters written to residents: recipient, subject, case, status and text."""
    from .outbox import list_outbox
    async with services.sessions() as session:
        rows = await list_outbox(session, status)
    if as_json:
        _emit(rows)
        return
    if not rows:
        click.echo("the outbox is empty")
    for r in rows:
        click.echo(f"#{r['id']} {r['status']:10} {r['case_reference'] or '-'}  {r['kind']:15} to {r['to']}  "
                   f"{r['subject']}" + (f"  [{r['error']}]" if r["error"] else ""))


@main.group()
def quarantine() -> None:
    """Messages that could not be parsed or stored: kept raw with the reason."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_services
async def quarantine_list(settings, services, as_json: bool) -> None:
    """Quarantined messages, newest first."""
    from sqlalchemy import select
    from storage import models as m
    async with services.sessions() as session:
        rows = (await session.execute(select(m.Quarantine).order_by(m.Quarantine.id.desc()))).scalars().all()
    out = [{"id": r.id, "source": r.source, "status": r.status, "reason": r.reason, "size": len(r.raw),
            "attempts": r.attempts, "created_at": r.created_at.isoformat()} for r in rows]
    if as_json:
        _emit(out)
        return
    if not out:
        click.echo("nothing in quarantine")
    for r in out:
        click.echo(f"#{r['id']} {r['status']:8} {r['source']:16} {r['size']:>8} B  {r['reason']}")


@quarantine.command("retry")
@click.argument("qid", type=int)
@with_services
async def quarantine_retry(settings, services, qid: int) -> None:
    """Take quarantined message QID in again (after a fix); it stays quarantined if it still fails."""
    from .components import build_intake, load_classifier
    from .core.intake import INBOUND_JSON, inbound_from_json
    from storage import models as m
    from storage.db import unit_of_work
    intake = build_intake(settings, services, load_classifier(settings))
    async with services.sessions() as session:
        row = await session.get(m.Quarantine, qid)
        if row is None:
            raise ConfigError(f"no quarantined message {qid}")
        raw, source = row.raw, row.source
    if raw.startswith(INBOUND_JSON):  # a Slack or CLI message, kept as JSON
        result = await intake.take(inbound_from_json(raw))
    else:
        result = await intake.take_email(raw, source)
    if result.kind == "quarantined":  # quarantine() counted the attempt on this row (or holds it in a new one)
        if result.message_row != qid:
            async with unit_of_work(services.sessions) as session:
                (await session.get(m.Quarantine, qid)).status = "released"
        click.echo(f"#{qid} still cannot be taken in (quarantine #{result.message_row}): {result.why}")
        return
    async with unit_of_work(services.sessions) as session:
        row = await session.get(m.Quarantine, qid)
        row.status, row.attempts = "released", row.attempts + 1
    click.echo(f"#{qid}: {result.kind} {result.case_reference or ''} ({result.why})")


# -- classifier ------------------------------------------------------------------------------------
DEV_SET = __import__("pathlib").Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "dev-set.jsonl"


@main.command()
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Where to write the model "
              "(default: classifier.model_dir from the settings).")
@click.pass_context
def train(ctx: click.Context, out: str | None) -> None:
    """Train the triage model from classifiers/data/ (fixed seed; the development set is never read)."""
    from pathlib import Path
    from classifiers.train import train as do_train
    settings = settings_of(ctx)
    report = do_train(Path(out) if out else settings.model_dir, log=click.echo)
    click.echo(f"trained on {report.records} records, {report.epochs} epochs, in {report.seconds:.1f} s; "
               f"held-out macro-F1 {report.holdout_macro_f1:.3f}, reason accuracy {report.holdout_reason_accuracy:.3f}; "
               f"model {report.size_bytes / 1e6:.1f} MB at {report.path}")


@main.command()
@click.option("--data", "data_path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Labelled JSON Lines (default: the development set, ../shared/data/dev-set.jsonl).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def evaluate(ctx: click.Context, data_path: str | None, as_json: bool) -> None:
    """Per-label precision, recall and F1, macro-F1, confusion matrix, reason and signal accuracy."""
    from pathlib import Path
    from classifiers.evaluate import render, score
    from classifiers.runtime import TriageModel
    from classifiers.train import load_records
    settings = settings_of(ctx)
    path = Path(data_path) if data_path else DEV_SET
    if not path.is_file():
        raise ConfigError(f"--data: no such file {path}")
    if not (settings.model_dir / "meta.json").is_file():
        raise ConfigError(f"no trained model at {settings.model_dir}: run `python -m bot train` first")
    result = score(TriageModel.load(settings.model_dir, settings.bot.review_threshold), load_records([path]))
    click.echo(json.dumps(result, indent=2) if as_json else f"{path}\n" + render(result))


@main.command()
@click.option("--policy", "policy_name", default=None, help="Policy profile for the suggestion (default: bot.policy).")
@click.pass_context
def classify(ctx: click.Context, policy_name: str | None) -> None:
    """Read JSON Lines on stdin (id, body; optional subject, channel, sender, received_at); write one JSON line
    per input, in order. A malformed line gets an error object with its line number."""
    from classifiers.runtime import Message, TriageModel
    settings = settings_of(ctx)
    name = policy_name or settings.bot.policy
    policies.load(name)
    if not (settings.model_dir / "meta.json").is_file():
        raise ConfigError(f"no trained model at {settings.model_dir}: run `python -m bot train` first")
    model = TriageModel.load(settings.model_dir, settings.bot.review_threshold)
    out = sys.stdout

    def flush(batch: list[tuple[Any, Message | dict]]) -> None:
        good = [(i, m) for i, m in batch if isinstance(m, Message)]
        results = iter(model.classify([m for _, m in good], name)) if good else iter(())
        for ident, item in batch:
            line = {"id": ident, **next(results)} if isinstance(item, Message) else item
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()

    batch: list[tuple[Any, Message | dict]] = []
    for n, raw in enumerate(sys.stdin, start=1):
        if not raw.strip():
            continue
        batch.append(_classify_input(n, raw))
        if len(batch) >= 512:
            flush(batch)
            batch = []
    flush(batch)


def _classify_input(n: int, raw: str) -> tuple[Any, Any]:
    from classifiers.runtime import Message
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, {"id": None, "line": n, "error": f"not valid JSON: {exc.msg} (column {exc.colno})"}
    if not isinstance(obj, dict):
        return None, {"id": None, "line": n, "error": "each line must be a JSON object"}
    ident = obj.get("id")
    if ident is None or not isinstance(obj.get("body"), str):
        return ident, {"id": ident, "line": n, "error": "each line needs 'id' and a string 'body'"}
    received = None
    if obj.get("received_at"):
        try:
            received = dt.datetime.fromisoformat(str(obj["received_at"]).replace("Z", "+00:00"))
            if received.tzinfo is None:
                received = received.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            return ident, {"id": ident, "line": n, "error": f"received_at is not ISO-8601: {obj['received_at']!r}"}
    return ident, Message(body=obj["body"], subject=obj.get("subject"), channel=obj.get("channel") or "email",
                          sender=obj.get("sender"), received_at=received)


@main.group()
def corrections() -> None:
    """Team leads' decisions that overrode the classifier's suggestion."""


@corrections.command("export")
@click.option("--out", type=click.File("w"), default="-", help="JSON Lines file (default: standard output).")
@with_services
async def corrections_export(settings, services, out) -> None:  # noqa: ANN001
    """Write each overridden suggestion as a training record (the record format of classifiers/data)."""
    from sqlalchemy import select
    from storage import models as m
    from storage.repository import aware
    count = 0
    async with services.sessions() as session:
        rows = (await session.execute(select(m.Event, m.Case).join(m.Case, m.Case.id == m.Event.case_id)
                                      .where(m.Event.kind == "decided").order_by(m.Event.id))).all()
        for event, case in rows:
            if not event.data.get("correction") or event.data.get("decision") == "not_a_case":
                continue
            msg = (await session.execute(select(m.InboundMessage).where(m.InboundMessage.case_id == case.id)
                                         .order_by(m.InboundMessage.id).limit(1))).scalar()
            if msg is None:
                continue
            signals = (case.suggestion or {}).get("signals") or {}
            record = {"id": f"correction-{case.reference}-{event.id}", "channel": msg.channel,
                      "sender": msg.sender, "subject": msg.subject, "body": msg.text or "",
                      "received_at": aware(msg.received_at).isoformat(), "label": event.data["decision"],
                      "reason": event.data.get("reason") if event.data["decision"] == "excluded" else None,
                      "signals": {k: signals.get(k) for k in ("escalation_request", "representative", "anonymous",
                                                              "incident_date", "case_reference", "urgent_hazard")},
                      "note": f"team lead {event.actor} corrected the suggestion "
                              f"{event.data.get('suggested')}/{event.data.get('suggested_reason')}"}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    click.echo(f"{count} correction(s) exported", err=True)


# -- reports ---------------------------------------------------------------------------------------
@main.command()
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last day, YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False), default=None,
              help="Also draw weekly volumes and on-time rates to this PNG.")
@click.option("--annual", "annual_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the annual complaints performance report (.md or .html).")
@with_services
async def report(settings, services, start: str, end: str, fmt: str, chart_path: str | None,
                 annual_path: str | None) -> None:
    """Tenant Satisfaction Measures CH01/CH02, volumes, timeliness, refusals; optionally a chart and the
    annual report the Code asks for."""
    from pathlib import Path
    from . import reports
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise ConfigError("--from/--to: dates must be YYYY-MM-DD") from None
    if last < first:
        raise ConfigError("--to must not be before --from")
    data = await reports.build(services.sessions, first, last, settings.bot.homes, settings.bot.region)
    click.echo(reports.render(data, fmt))
    if chart_path:
        reports.chart(data, Path(chart_path))
        click.echo(f"chart written to {chart_path}", err=True)
    if annual_path:
        path = Path(annual_path)
        fmt_out = "html" if path.suffix.lower() in (".html", ".htm") else "md"
        if chart_path:
            chart_name = Path(chart_path).name
        else:
            chart_file = path.with_suffix(".png")
            reports.chart(data, chart_file)
            chart_name = chart_file.name
        path.write_text(reports.annual(data, settings.relay.from_name, fmt_out, chart_name), encoding="utf-8")
        click.echo(f"annual report written to {path}", err=True)


# -- data protection -------------------------------------------------------------------------------
@main.command()
@click.argument("email")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder to write (default: ./sar-<email>-<date>).")
@with_services
async def sar(settings, services, email: str, out_dir: str | None) -> None:
    """Subject access request: export everything held about EMAIL (cases, messages with raw .eml, letters)."""
    from pathlib import Path
    from .privacy import subject_access
    folder = Path(out_dir or f"sar-{email.replace('@', '_at_')}-{dt.date.today().isoformat()}")
    counts = await subject_access(services.sessions, email, folder)
    click.echo(f"{folder}: {counts['cases']} case(s), {counts['messages']} message(s), {counts['letters']} letter(s)")


@main.command()
@click.option("--days", type=int, default=None, help="Override retention.closed_case_days.")
@with_services
async def retention(settings, services, days: int | None) -> None:
    """Anonymise closed cases older than the retention period now (the scheduler does it daily)."""
    from .privacy import anonymise_closed
    counts = await anonymise_closed(services.sessions, days if days is not None else settings.retention.closed_case_days)
    click.echo(f"anonymised {counts['cases']} case(s), {counts['messages']} message(s), {counts['letters']} letter(s)")


@main.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check settings, database and migrations, IMAP, the relay, Slack and the model: one line each."""
    from .doctor import run_checks
    settings = settings_of(ctx)
    checks = _run(run_checks(settings))
    for check in checks:
        click.echo(check.line())
    if any(c.ok is False for c in checks):
        ctx.exit(1)
