"""Loop guards and arrival times that the mail review found gaps in."""

import datetime as dt

from bot.core.intake import letters_allowed, mailbox_key
from bot.mail.parse import parse_email
from tests.helpers import email_bytes

OURS = {"complaints@landlord.org.uk"}


def test_our_own_address_in_any_spelling_is_never_written_to():
    for spelling in ('"complaints"@landlord.org.uk', "complaints+cases@landlord.org.uk",
                     "complaints@landlord.org.uk.", "Complaints@Landlord.org.uk"):
        assert mailbox_key(spelling) == "complaints@landlord.org.uk"
        assert letters_allowed(spelling, OURS, 0, 3) == (False, "one of our own addresses (no mail loops)")
    assert letters_allowed("resident+flat2@example.org", OURS, 0, 3) == (True, "")


def test_mail_from_our_own_address_in_another_spelling_is_machine_mail():
    raw = email_bytes(sender="complaints+x@landlord.org.uk", message_id="<own@x>")
    assert parse_email(raw, ours=OURS).auto_reply == "own_address"


def test_an_encoded_automatic_reply_subject_is_recognised():
    raw = email_bytes(subject="=?utf-8?q?Automatic_reply=3A_Leak_in_kitchen?=", message_id="<ooo@x>")
    assert parse_email(raw).auto_reply == "auto_subject"


def test_arrival_time_with_an_offset_is_kept_in_utc():
    bst = dt.timezone(dt.timedelta(hours=1))
    parsed = parse_email(email_bytes(), arrived_at=dt.datetime(2026, 6, 1, 17, 30, tzinfo=bst))
    assert parsed.received_at.tzinfo == dt.timezone.utc and parsed.received_at.hour == 16

