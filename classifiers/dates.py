"""Finds when a problem happened from what a message says, relative to when it was received.

"on 3rd May", "since last Tuesday", "back in March last year", "two years ago", "since Christmas": each
expression becomes a date no later than the receipt; the earliest one is taken as the incident date (the
problem began then). Deliberately conservative: vague phrases ("a while", "ages") give nothing.
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import re

MONTHS = {m.lower(): i for i, m in enumerate(_cal.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(_cal.month_abbr) if m})
MONTHS["sept"] = 9
WEEKDAYS = {d.lower(): i for i, d in enumerate(_cal.day_name)}
WEEKDAYS.update({d.lower(): i for i, d in enumerate(_cal.day_abbr)})
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple of": 2, "few": 3, "several": 3}
M = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
NUM = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|couple of|few|several)"
DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
ABOUT = r"(?:(?:about|around|roughly|approximately|approx\.?)\s+)?"  # "since about February"

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("dmy_numeric", re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{2,4})\b")),
    ("day_month_year", re.compile(rf"\b{DAY}\s+(?:of\s+)?{M}\.?,?\s+(\d{{4}})\b", re.I)),
    ("month_day_year", re.compile(rf"\b{M}\.?\s+{DAY},?\s+(\d{{4}})\b", re.I)),
    ("day_month", re.compile(rf"\b{DAY}\s+(?:of\s+)?{M}\b", re.I)),
    ("month_day", re.compile(rf"\b{M}\s+{DAY}\b(?!\s*(?:am|pm|years?|days?|weeks?))", re.I)),
    ("month_year", re.compile(rf"\b(?:in|since|from|back in|during|of|early|late|mid|end of)\s+(?:early\s+|late\s+|mid-?\s*)?{M}\s+(\d{{4}})\b", re.I)),
    ("month_last_year", re.compile(rf"\b{M}\s+(last|this)\s+year\b", re.I)),
    ("in_month", re.compile(rf"\b(?:in|since|from|back in|during|early|late|mid|start of|end of|beginning of)\s+{ABOUT}(?:early\s+|late\s+|mid-?\s*)?{M}\b", re.I)),
    ("year_only", re.compile(r"\b(?:in|since|from|back in|during)\s+((?:19|20)\d{2})\b", re.I)),
    ("ago", re.compile(rf"\b{NUM}\s+(day|week|month|year|fortnight)s?\s+ago\b", re.I)),
    ("for_duration", re.compile(rf"\b(?:for|over)\s+(?:the\s+(?:last|past)\s+)?(?:about\s+|around\s+|nearly\s+|almost\s+|over\s+)?{NUM}\s+(day|week|month|year|fortnight)s?\b", re.I)),
    ("past_unit", re.compile(r"\b(?:for|over|in|during)\s+the\s+(?:last|past)\s+(day|week|month|year|fortnight)\b", re.I)),
    ("since_weekend", re.compile(r"\b(?:since|over|at)\s+the\s+weekend\b", re.I)),
    ("last_unit", re.compile(r"\b(last|this)\s+(week|month|year|weekend|night|winter|summer|spring|autumn)\b", re.I)),
    ("weekday", re.compile(r"\b(?:on|since|last|this)\s+(?:last\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.I)),
    ("today", re.compile(r"\b(today|this morning|this afternoon|this evening|tonight|just now)\b", re.I)),
    ("yesterday", re.compile(r"\b(yesterday|last night)\b", re.I)),
    ("festival", re.compile(r"\b(?:since|over|at|before|after|around)\s+(christmas|new year|easter)\b", re.I)),
    ("the_nth", re.compile(r"\b(?:on|since)\s+the\s+(\d{1,2})(?:st|nd|rd|th)\b", re.I)),
]
SEASONS = {"winter": 12, "spring": 3, "summer": 6, "autumn": 9}
_MONTH_HINTS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_UNITS = ("day", "week", "month", "year", "fortnight")
# A pattern runs only when the text could contain it (cheap substring tests before the regexes).
HINTS: dict[str, tuple[str, ...]] = {
    "day_month_year": _MONTH_HINTS, "month_day_year": _MONTH_HINTS, "day_month": _MONTH_HINTS,
    "month_day": _MONTH_HINTS, "month_year": _MONTH_HINTS, "month_last_year": _MONTH_HINTS, "in_month": _MONTH_HINTS,
    "ago": (" ago",), "for_duration": _UNITS, "past_unit": ("last ", "past "), "since_weekend": ("weekend",), "last_unit": ("last ", "this "), "weekday": ("day",),
    "today": ("today", "morning", "afternoon", "evening", "tonight", "just now"), "yesterday": ("yesterday", "last night"),
    "festival": ("christmas", "easter", "new year"), "the_nth": ("the ",), "year_only": ("19", "20"),
}


def _safe(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, min(day, _cal.monthrange(year, month)[1]))
    except ValueError:
        return None


def _not_after(day: dt.date | None, ref: dt.date, roll_year: bool = True) -> dt.date | None:
    """A date without a year is the most recent such date on or before the receipt."""
    if day is None:
        return None
    if day > ref and roll_year:
        return _safe(day.year - 1, day.month, day.day)
    return day


def _amount(word: str) -> int:
    word = word.lower()
    return int(word) if word.isdigit() else NUMBERS.get(word, 0)


def _back(ref: dt.date, n: int, unit: str) -> dt.date | None:
    unit = unit.lower()
    if unit == "day":
        return ref - dt.timedelta(days=n)
    if unit == "week":
        return ref - dt.timedelta(weeks=n)
    if unit == "fortnight":
        return ref - dt.timedelta(weeks=2 * n)
    if unit == "month":
        month, year = ref.month - n, ref.year
        while month <= 0:
            month, year = month + 12, year - 1
        return _safe(year, month, ref.day)
    if unit == "year":
        return _safe(ref.year - n, ref.month, ref.day)
    return None


def _easter(year: int) -> dt.date:
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = ((h + l_ - 7 * m + 114) % 31) + 1
    return dt.date(year, month, day)


def candidates(text: str, received: dt.date) -> list[tuple[dt.date, str]]:
    """Every date the text refers to, with the rule that found it."""
    out: list[tuple[dt.date, str]] = []
    lower = text.lower()
    for name, pattern in PATTERNS:
        hints = HINTS.get(name)
        if hints and not any(h in lower for h in hints):
            continue
        for m in pattern.finditer(text):
            day = _resolve(name, m, received)
            if day is not None and received - dt.timedelta(days=3660) <= day <= received:
                out.append((day, name))
    return out


def _resolve(name: str, m: re.Match[str], ref: dt.date) -> dt.date | None:
    g = m.groups()
    if name == "dmy_numeric":
        year = int(g[2]) + (2000 if len(g[2]) == 2 else 0)
        return _safe(year, int(g[1]), int(g[0])) if 1 <= int(g[1]) <= 12 else None
    if name == "day_month_year":
        return _safe(int(g[2]), MONTHS[g[1].lower()[:3]], int(g[0]))
    if name == "month_day_year":
        return _safe(int(g[2]), MONTHS[g[0].lower()[:3]], int(g[1]))
    if name == "day_month":
        return _not_after(_safe(ref.year, MONTHS[g[1].lower()[:3]], int(g[0])), ref)
    if name == "month_day":
        return _not_after(_safe(ref.year, MONTHS[g[0].lower()[:3]], int(g[1])), ref)
    if name == "month_year":
        return _safe(int(g[1]), MONTHS[g[0].lower()[:3]], 1)
    if name == "month_last_year":
        year = ref.year - 1 if g[1].lower() == "last" else ref.year
        return _safe(year, MONTHS[g[0].lower()[:3]], 1)
    if name == "in_month":
        month = MONTHS[g[0].lower()[:3]]
        return _safe(ref.year if month <= ref.month else ref.year - 1, month, 1)
    if name == "year_only":
        return _safe(int(g[0]), 1, 1)
    if name in ("ago", "for_duration"):
        n = _amount(g[0])
        return _back(ref, n, g[1]) if n else None
    if name == "past_unit":
        return _back(ref, 1, g[0].lower())
    if name == "since_weekend":  # the most recent Saturday before the day of receipt
        return ref - dt.timedelta(days=(ref.weekday() - 5) % 7 or 7)
    if name == "last_unit":
        which, unit = g[0].lower(), g[1].lower()
        if unit == "night":
            return ref - dt.timedelta(days=1) if which == "last" else ref
        if unit == "weekend":
            back = (ref.weekday() - 5) % 7 or 7
            return ref - dt.timedelta(days=back) if which == "last" else ref - dt.timedelta(days=(ref.weekday() - 5) % 7)
        if unit in SEASONS:
            month = SEASONS[unit]
            year = ref.year - 1 if which == "last" or month > ref.month else ref.year
            return _safe(year, month, 1)
        if which == "this":
            return {"week": ref - dt.timedelta(days=ref.weekday()), "month": ref.replace(day=1),
                    "year": ref.replace(month=1, day=1)}.get(unit)
        return _back(ref, 1, unit)
    if name == "weekday":
        target = WEEKDAYS[g[0].lower()]
        back = (ref.weekday() - target) % 7
        if m.group(0).lower().startswith("last") or back == 0:
            back = back or 7
        return ref - dt.timedelta(days=back)
    if name == "today":
        return ref
    if name == "yesterday":
        return ref - dt.timedelta(days=1)
    if name == "festival":
        what = g[0].lower()
        if what == "christmas":
            day = dt.date(ref.year, 12, 25)
        elif what == "new year":
            day = dt.date(ref.year, 1, 1)
        else:
            day = _easter(ref.year)
        return day if day <= ref else (_easter(ref.year - 1) if what == "easter" else day.replace(year=ref.year - 1))
    if name == "the_nth":
        day = int(g[0])
        candidate = _safe(ref.year, ref.month, day)
        if candidate is None or candidate > ref:
            month, year = (ref.month - 1, ref.year) if ref.month > 1 else (12, ref.year - 1)
            candidate = _safe(year, month, day)
        return candidate
    return None


def incident_date(text: str, received: dt.date) -> tuple[dt.date | None, str | None]:
    """The earliest date the text refers to (when the problem began), and the rule that found it."""
    found = candidates(text, received)
    if not found:
        return None, None
    day, rule = min(found)
    return day, rule
