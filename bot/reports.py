"""`python -m bot report`: gathers case facts from the store, computes (bot.core.report) and renders them as a
table, CSV or JSON, a chart, or the annual complaints performance report the Code asks for."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from storage import models as m
from storage.repository import aware

from . import policies
from .core.clocks import Extension
from .core.letters import REASON_TEXT
from .core.report import CaseFacts, StageFacts, compute


async def gather(sessions: Any) -> list[CaseFacts]:
    async with sessions() as session:
        rows = (await session.execute(select(m.Case).options(selectinload(m.Case.clocks)))).scalars().all()
        decided = (await session.execute(select(m.Event).where(m.Event.kind == "decided")
                                         .order_by(m.Event.id))).scalars().all()
    first_decision: dict[int, dt.datetime] = {}
    became: set[int] = set()
    for e in decided:
        first_decision.setdefault(e.case_id, aware(e.at))
        if e.data.get("decision") == "complaint" and e.data.get("previous") == "service_request":
            became.add(e.case_id)
    out = []
    for row in rows:
        policy = policies.load(row.policy)
        cal = policy.calendar(row.region)
        received_at = aware(row.received_at)
        stages, met = [], {}
        for c in row.clocks:
            stages.append(StageFacts(c.stage, c.start, c.acknowledged_on, c.responded_on,
                                     tuple(Extension(e["days"], e["reason"], dt.date.fromisoformat(e["on"]))
                                           for e in c.extensions), c.stopped_on))
            if c.responded_on is not None:
                met[c.stage] = "respond" not in (c.breached or [])
        hours = None
        if row.id in first_decision:
            hours = round((first_decision[row.id] - received_at).total_seconds() / 3600, 1)
        out.append(CaseFacts(
            reference=row.reference, received=cal.local(received_at).date(), channel=row.channel,
            suggested_label=row.suggested_label, confirmed_label=row.confirmed_label,
            confirmed_reason=row.confirmed_reason, representative=row.representative,
            urgent_hazard=row.urgent_hazard, stages=tuple(stages),
            became_complaint_from_service_request=row.id in became, first_decision_hours=hours,
            policy_deadlines_met=met))
    return out


async def build(sessions: Any, start: dt.date, end: dt.date, homes: int, region: str | None) -> dict[str, Any]:
    code = policies.load(policies.DEFAULT_POLICY)
    return compute(await gather(sessions), start, end, homes, code, code.calendar(region))


def flatten(report: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += flatten(value, name + ".")
        else:
            rows.append((name, value))
    return rows


def as_table(report: dict[str, Any]) -> str:
    rows = flatten(report)
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {'-' if v is None else v}" for k, v in rows)


def as_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["measure", "value"])
    writer.writerows(flatten(report))
    return buf.getvalue()


def chart(report: dict[str, Any], path: Path) -> None:
    """Weekly volumes and on-time rates (CH02), as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    weeks = report["volumes"]["by_week"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.bar(list(weeks), list(weeks.values()), color="#1d3557")
    left.set_title("Messages opening cases, by week")
    left.tick_params(axis="x", rotation=70, labelsize=7)
    tsm = report["tsm"]
    rates = [tsm.get("CH02_stage1_within_code_timescales") or 0, tsm.get("CH02_stage2_within_code_timescales") or 0]
    right.bar(["stage 1", "stage 2"], [100 * r for r in rates], color=["#2a9d8f", "#e76f51"])
    right.set_ylim(0, 100)
    right.set_title("Answered within the Code's timescales (CH02), %")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def annual(report: dict[str, Any], landlord: str, fmt: str = "md", chart_name: str | None = None) -> str:
    """The annual complaints performance report (Code section 7): figures, refusals and why, charts."""
    t, v = report["tsm"], report["volumes"]
    p = report["period"]
    pct = lambda x: "-" if x is None else f"{100 * x:.0f}%"  # noqa: E731
    lines = [f"# Complaints performance report: {landlord}", "",
             f"Period: {p['from']} to {p['to']}. Homes managed: {report['homes']:,}.", "",
             "## Tenant Satisfaction Measures", "",
             "| measure | stage 1 | stage 2 |", "|---|---|---|",
             f"| CH01 complaints received per 1,000 homes | {t['CH01_stage1_per_1000_homes']} | {t['CH01_stage2_per_1000_homes']} |",
             f"| complaints received | {t['stage1_received']} | {t['stage2_received']} |",
             f"| CH02 answered within the Code's timescales | {pct(t['CH02_stage1_within_code_timescales'])} | {pct(t['CH02_stage2_within_code_timescales'])} |",
             f"| answered in the period | {t['stage1_answered']} | {t['stage2_answered']} |", "",
             "## What came in", "",
             "| decision | messages |", "|---|---|"]
    lines += [f"| {k.replace('_', ' ')} | {n} |" for k, n in v["by_confirmed_label"].items()]
    lines += ["", "| channel | messages |", "|---|---|"] + [f"| {k} | {n} |" for k, n in v["by_channel"].items()]
    lines += ["", "## Complaints we did not accept, and why", ""]
    if v["excluded_by_reason"]:
        lines += ["| reason | number | why it is outside the complaints procedure |", "|---|---|---|"]
        lines += [f"| {k.replace('_', ' ')} | {n} | {REASON_TEXT.get(k, '')} |" for k, n in v["excluded_by_reason"].items()]
    else:
        lines.append("None in this period.")
    lines += ["", "## Timeliness", ""]
    for stage, s in report["timeliness"].items():
        lines.append(f"- {stage}: {s['started']} started; median {s['median_working_days_to_acknowledge']} working days "
                     f"to acknowledge, {s['median_working_days_to_respond']} to respond; {s['extended']} extended"
                     + (f" ({', '.join(f'{k}: {n}' for k, n in s['extension_reasons'].items())})" if s["extension_reasons"] else ""))
    lines += ["", f"- Service requests that later became complaints: {report['service_requests_that_became_complaints']}",
              f"- Complaints made through representatives: {report['representatives'] or 'none'}",
              f"- Urgent hazards reported: {report['urgent_hazards']['count']} "
              f"(median {report['urgent_hazards']['median_hours_to_first_decision']} hours to a team lead's decision)"]
    if chart_name:
        lines += ["", f"![Volumes and on-time rates]({chart_name})"]
    text = "\n".join(lines) + "\n"
    if fmt == "md":
        return text
    return _markdown_to_html(text)


def _markdown_to_html(text: str) -> str:
    out, table = ["<!doctype html><meta charset='utf-8'><title>Complaints performance report</title>"], False
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-"):
                continue
            if not table:
                out.append("<table border='1' cellpadding='4'>")
                table = True
            out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if table:
            out.append("</table>")
            table = False
        if line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("- "):
            out.append(f"<li>{html.escape(line[2:])}</li>")
        elif line.startswith("!["):
            src = line[line.index("(") + 1:-1]
            out.append(f"<img src='{html.escape(src)}' alt='chart'>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    if table:
        out.append("</table>")
    return "\n".join(out) + "\n"


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2)
    if fmt == "csv":
        return as_csv(report)
    return as_table(report)
