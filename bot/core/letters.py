"""Letters to residents: what each says, its subject, its threading headers. Pure: templates come in as text."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from string import Template

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")

REASON_TEXT = {
    "neighbour_dispute": "it is about the behaviour of another resident rather than a service we provided",
    "legal_proceedings": "the matter is the subject of legal proceedings",
    "insurance_claim": "it is a claim for injury or damage, which our insurers deal with",
    "serious_allegation": "it makes allegations that must be dealt with under another procedure",
    "employment_matter": "it concerns employment with us, which our HR procedures deal with",
    "councillor_conduct": "it is about the conduct of a councillor, which has its own procedure",
    "data_breach": "it concerns the handling of personal data, which our Data Protection Officer deals with",
    "rent_or_charge_level": "it is about the level of rent or service charge set, not how a service was delivered",
    "policy_disagreement": "it disagrees with a policy or law itself rather than how we applied it",
    "other_organisation": "it is about a service that another organisation provides",
    "previously_concluded": "we have already considered this matter under our complaints procedure",
    "time_expired": "the issue arose more than the time our policy allows before a complaint was made",
    "compensation_only": "it asks for compensation only",
    "information_request": "it asks for information or an explanation rather than raising dissatisfaction",
    "compliment_or_comment": "it is a compliment or comment, which we have passed on with thanks",
}


def clean_header(value: str | None, limit: int = 200) -> str:
    """A header value that cannot inject headers: CR, LF and other controls become spaces, and "=?" is broken
    up so that the email package cannot decode an RFC 2047 word smuggled in resident text into a CR LF."""
    return " ".join(_CONTROL.sub(" ", value or "").replace("=?", "= ?").split())[:limit]


def subject_for(reference: str, original: str | None) -> str:
    """Keep the case reference in the subject so replies thread back to the case."""
    base = re.sub(r"^\s*((fwd?|fw|re)\s*:\s*)+", "", clean_header(original), flags=re.I)
    if not base:
        return f"Your message [{reference}]"
    if reference in base:
        return f"Re: {base}"
    return f"Re: {base} [{reference}]"


def greeting_name(name: str | None) -> str:
    name = clean_header(name, 80)
    return name if name and "@" not in name else "resident"


def render(text_template: str, html_template: str | None, values: dict[str, str]) -> tuple[str, str | None]:
    """Fill a letter's plain text and HTML alternative. Values are escaped for the HTML part."""
    text = Template(text_template).safe_substitute(values)
    html_out = None
    if html_template is not None:
        escaped = {k: html.escape(v) for k, v in values.items()}
        escaped["summary_html"] = "<br>".join(html.escape(values.get("summary", "")).splitlines())
        html_out = Template(html_template).safe_substitute(escaped)
    return text, html_out


def summary_of(text: str, limit: int = 1200) -> str:
    """Our understanding of a complaint, for the acknowledgement: the resident's own words, quoted."""
    body = "\n".join(line.rstrip() for line in (text or "").strip().splitlines())
    body = re.sub(r"\n{3,}", "\n\n", body)
    if len(body) > limit:
        body = body[:limit].rsplit(" ", 1)[0] + " [...]"
    return "\n".join("  " + line for line in body.splitlines()) or "  (no text)"


def long_date(day: dt.date | None) -> str:
    return "" if day is None else f"{day.day} {day:%B %Y}"


@dataclass(frozen=True)
class Letter:
    kind: str
    to_addr: str
    to_name: str | None
    subject: str
    text: str
    html: str | None
    in_reply_to: str | None
    references: str | None
