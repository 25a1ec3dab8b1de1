"""Parsing real-world and hand-written messages: charsets, HTML, quotes, forwards, machines, never a crash."""

import glob
import os
import sysconfig
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.core.errors import ParseError
from bot.core.letters import clean_header, subject_for
from bot.mail.parse import decode_text, parse_email

DATA = Path(__file__).resolve().parent.parent / "data" / "mail"


def parse(name: str, **kw):
    return parse_email((DATA / name).read_bytes(), **kw)


def test_plain_text_complaint():
    p = parse("plain_complaint.eml")
    assert p.sender.email == "margaret.oyelaran@example.org" and p.sender.name == "Margaret Oyelaran"
    assert p.identity == "<CAF1x9-plain-0001@mail.example.org>"
    assert p.text.startswith("Dear Sir or Madam") and "bulging" in p.text
    assert p.auto_reply is None and p.forwarded_by is None
    assert p.received_at.isoformat() == "2026-03-03T09:14:22+00:00"  # no arrival given: the Date header


def test_outlook_html_only_is_converted_to_readable_text():
    p = parse("outlook_html_only.eml")
    assert p.html_only
    assert "second time your gas contractor has not turned up" in p.text
    assert "<p" not in p.full_text and "MsoNormal" not in p.full_text and "&nbsp;" not in p.full_text
    assert p.sender.name == "Okafor, Daniel"


def test_windows_1252_pound_signs_and_curly_quotes_in_body_and_headers():
    p = parse("cp1252_pound.eml")
    assert p.subject == "Service charge – £240 for cleaning that never happens"
    assert p.sender.name == "Siân O’Brien"
    assert "£240" in p.text and "“weekly cleaning”" in p.text and "hasn’t" in p.text


def test_latin1_label_on_windows_1252_bytes():
    assert "I’m paying £12" in parse("iso8859_curly.eml").text


def test_missing_charset_with_utf8_bytes():
    assert "£45" in parse("missing_charset_utf8.eml").text and "can’t" in parse("missing_charset_utf8.eml").text


@pytest.mark.parametrize("data,declared,expected", [
    ("£5 – “ok”".encode("cp1252"), "iso-8859-1", "£5 – “ok”"),
    ("£5".encode("utf-8"), "iso-8859-1", "£5"),
    ("£5".encode("utf-8"), "x-unknown", "£5"),
    ("naïve £".encode("latin-1"), "latin-1", "naïve £"),
    (b"plain", None, "plain"),
    (b"\x81\x8d", "us-ascii", "\ufffd\ufffd"),
])
def test_decode_text(data, declared, expected):
    assert decode_text(data, declared) == expected


def test_rfc2047_encoded_subject_and_display_name():
    p = parse("encoded_subject.eml")
    assert p.subject == "Réparation – fenêtre cassée (broken window)"
    assert p.sender.name == "Amélie Dubois"


def test_gmail_reply_separates_new_text_quote_and_signature():
    p = parse("gmail_reply_quoted.eml")
    assert p.text == "Thanks. The engineer still hasn't come, and I am not happy with how this has been handled so far."
    assert p.signature == "Kind regards\nJane"
    assert "Thank you for your message" in p.quoted
    assert p.case_reference == "CMP-2026-00042"
    assert p.references == ("<letter-receipt-42@complaints.localhost>", "<orig-42@example.com>")
    assert "Thank you for your message" in p.full_text  # the full body stays available


def test_outlook_reply_with_from_sent_block():
    p = parse("outlook_reply_escalation.eml")
    assert "Please take my complaint to stage 2." in p.text
    assert "We have investigated your complaint" not in p.text
    assert "We have investigated your complaint" in p.quoted
    assert p.case_reference == "CMP-2026-00017"


def test_apple_mail_reply():
    p = parse("apple_reply.eml")
    assert p.text.startswith("That's fine, Thursday works for me.")
    assert "We can collect the sofa" in p.quoted and "We can collect the sofa" not in p.text


@pytest.mark.parametrize("name,resident,staff,original", [
    ("forward_inline_gmail.eml", "barry.coombes@example.com", "priya.natarajan@landlord.example.org",
     "2026-03-02T07:15:00+00:00"),
    ("forward_inline_outlook.eml", "lorraine.baptiste@example.net", "gareth.hughes@landlord.example.org",
     "2026-03-10T21:47:00+00:00"),
    ("forward_attached.eml", "nadia.rahman@example.com", "sam.whitlock@landlord.example.org",
     "2026-03-05T19:20:00+00:00"),
])
def test_forwards_name_the_resident_and_who_passed_it_on(name, resident, staff, original):
    p = parse(name)
    assert p.complainant.email == resident
    assert p.forwarded_by is not None and p.forwarded_by.email == staff
    assert p.received_at.isoformat() == original  # the original date, earlier than the forward
    assert "Please log this" not in p.text and "For triage" not in p.text and "Resident's email" not in p.text


def test_forward_date_is_not_used_when_later_than_arrival():
    import datetime as dt
    arrived = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
    p = parse("forward_inline_gmail.eml", arrived_at=arrived)
    assert p.received_at == arrived


def test_attachments_are_recorded_not_parsed():
    p = parse("with_attachments.eml")
    assert [(a.filename, a.content_type) for a in p.attachments] == [
        ("kitchen ceiling.jpg", "image/jpeg"), ("invoice.exe", "application/x-msdownload")]
    assert all(a.size > 0 and a.stored for a in p.attachments)
    assert "TVqQ" not in p.text and "JFIF" not in p.text
    small = parse("with_attachments.eml", max_attachment_bytes=10)
    assert not any(a.stored or a.data for a in small.attachments)


def test_missing_message_id_gets_a_stable_hash():
    a, b = parse("no_message_id.eml"), parse("no_message_id.eml")
    assert a.message_id is None and a.identity.startswith("sha256:") and a.identity == b.identity


@pytest.mark.parametrize("name,rule", [
    ("bounce_dsn.eml", "auto_submitted"),
    ("out_of_office.eml", "auto_submitted"),
    ("out_of_office_no_headers.eml", "precedence"),
    ("list_mail.eml", "precedence"),
    ("read_receipt.eml", "delivery_report"),
])
def test_machines_are_recognised_with_the_rule_that_decided(name, rule):
    assert parse(name).auto_reply == rule


def test_own_address_and_daemon_and_null_return_path_rules():
    base = b"From: %s\r\nTo: complaints@localhost\r\nSubject: hi\r\n%s\r\nhello\r\n"
    assert parse_email(base % (b"complaints@localhost", b""), ours={"complaints@localhost"}).auto_reply == "own_address"
    assert parse_email(base % (b"MAILER-DAEMON@x.org", b"")).auto_reply == "daemon_sender"
    assert parse_email(base % (b"a@x.org", b"Return-Path: <>\r\n")).auto_reply == "null_return_path"
    assert parse_email(base % (b"a@x.org", b"List-Id: <l.x.org>\r\n")).auto_reply == "list_mail"
    assert parse_email(base % (b"a@x.org", b"Auto-Submitted: no\r\n")).auto_reply is None
    assert parse_email(base % (b"a@x.org", b"X-Autoreply: yes\r\n")).auto_reply == "autoreply_header"


def test_broken_mail_is_still_read_and_mail_without_sender_is_refused_with_a_reason():
    p = parse("malformed.eml")  # garbage From, bad encoded word, unknown charset, bad base64
    assert "broken" in str(p.sender) and "@" not in p.sender.email and "not base64" in p.text
    with pytest.raises(ParseError, match="no sender"):
        parse("no_sender.eml")
    with pytest.raises(ParseError, match="empty"):
        parse_email(b"   ")


def test_letters_cannot_carry_injected_headers():
    assert clean_header("Hello\r\nBcc: victim@example.com") == "Hello Bcc: victim@example.com"
    assert "\n" not in subject_for("CMP-2026-00001", "Leak\nBcc: x@y.z")
    assert subject_for("CMP-2026-00001", "Fwd: FW: Leak") == "Re: Leak [CMP-2026-00001]"
    assert subject_for("CMP-2026-00001", "Re: Leak [CMP-2026-00001]") == "Re: Leak [CMP-2026-00001]"


def _cpython_email_corpus() -> list[str]:
    stdlib = sysconfig.get_paths()["stdlib"]
    return sorted(glob.glob(os.path.join(stdlib, "test", "test_email", "data", "*")))


CORPUS = _cpython_email_corpus()


@pytest.mark.skipif(not CORPUS, reason="this Python does not ship test/test_email/data")
def test_cpython_email_corpus_parses_or_fails_cleanly():
    assert len(CORPUS) == 65
    outcomes = {"parsed": 0, "parse_error": 0}
    for path in CORPUS:
        raw = Path(path).read_bytes()
        try:
            p = parse_email(raw)
        except ParseError:
            outcomes["parse_error"] += 1
            continue
        outcomes["parsed"] += 1
        assert p.identity and (p.sender.email or p.sender.name) and isinstance(p.text, str)
        assert p.received_at.tzinfo is not None
    # Every msg_*.txt with a sender parses; the seven with no From/Sender/Return-Path at all and the 17
    # pictures and sounds are refused with a reason (they would be quarantined).
    assert outcomes == {"parsed": 41, "parse_error": 24}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_fuzz_arbitrary_bytes_never_raise_anything_but_parse_error(data):
    try:
        parse_email(data)
    except ParseError:
        pass


header_names = st.sampled_from(["From", "To", "Subject", "Date", "Message-ID", "Content-Type", "References",
                                "Content-Transfer-Encoding", "Reply-To", "Auto-Submitted", "Content-Disposition"])
header_values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80) | st.sampled_from([
    "=?utf-8?B?////?=", "=?x-unknown?Q?a=ZZ?=", "multipart/mixed; boundary=", "text/plain; charset=\"nope\"",
    "<<<>>>", "a@b", "\"unterminated <x@y", "base64", "quoted-printable", "Mon, 99 Foo 20261 99:99:99 +9999"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(header_names, header_values), max_size=10), st.binary(max_size=1500))
def test_fuzz_structured_messages(headers, body):
    raw = b"".join(f"{k}: {v}".encode("utf-8", "surrogatepass") + b"\r\n" for k, v in headers) + b"\r\n" + body
    try:
        parse_email(raw)
    except ParseError:
        pass
