"""Why these parsing libraries: HTML-to-text (inscriptis vs html2text vs BeautifulSoup) and quoted-reply
stripping (mail-parser-reply vs email-reply-parser), measured on the project's sample mail in tests/data/mail.

    .venv/bin/pip install html2text beautifulsoup4 email-reply-parser   # the candidates not kept
    .venv/bin/python bench/libraries.py
"""

from __future__ import annotations

import email
import email.policy
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data" / "mail"

# (sample, phrase that must be in the new text, phrase that must not: it belongs to the quote)
REPLIES = [("gmail_reply_quoted.eml", "engineer still hasn't come", "Thank you for your message"),
           ("outlook_reply_escalation.eml", "take my complaint to st", "We have investigated"),
           ("apple_reply.eml", "Thursday works for me", "We can collect the sofa")]


def html_samples() -> list[str]:
    out = []
    for f in sorted(DATA.glob("*.eml")):
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        for part in msg.walk():
            if part.get_content_type() == "text/html":
                out.append(part.get_content())
    return out


def timeit(fn, items, rounds=200) -> float:
    t0 = time.perf_counter()
    for _ in range(rounds):
        for x in items:
            fn(x)
    return (time.perf_counter() - t0) / (rounds * len(items)) * 1e6


def main() -> None:
    htmls = html_samples()
    print(f"HTML to text, {len(htmls)} HTML parts from tests/data/mail (µs per part; markup left = '<', '&nbsp;', '**', '[')")
    candidates = {}
    from inscriptis import get_text
    from inscriptis.model.config import ParserConfig
    cfg = ParserConfig(display_links=False, display_images=False)
    candidates["inscriptis"] = lambda h: get_text(h, cfg)
    try:
        import html2text
        h2t = html2text.HTML2Text()
        h2t.body_width = 0
        candidates["html2text"] = h2t.handle
    except ImportError:
        print("  html2text not installed")
    try:
        from bs4 import BeautifulSoup
        candidates["beautifulsoup4"] = lambda h: BeautifulSoup(h, "html.parser").get_text("\n")
    except ImportError:
        print("  beautifulsoup4 not installed")
    for name, fn in candidates.items():
        outs = [fn(h) for h in htmls]
        left = sum(len(re.findall(r"<[a-z/]|&nbsp;|\*\*|\[", o)) for o in outs)
        blank = sum(o.count("\n\n\n") for o in outs)
        print(f"  {name:15} {timeit(fn, htmls):8.0f} µs   markup left {left:3}   runs of blank lines {blank}")

    print("\nQuoted-reply stripping on the reply samples (correct = new text kept, quote removed)")
    from mailparser_reply import EmailReplyParser as MPR
    from bot.mail.parse import _body
    texts = []
    for name, keep, drop in REPLIES:
        msg = email.message_from_bytes((DATA / name).read_bytes(), policy=email.policy.compat32)
        texts.append((_body(msg, 10**7)[0], keep, drop))
    parsers = {"mail-parser-reply": lambda t: MPR(languages=["en"]).read(text=t).replies[0].body}
    try:
        from email_reply_parser import EmailReplyParser as ERP
        parsers["email-reply-parser"] = lambda t: ERP.parse_reply(t)
    except ImportError:
        print("  email-reply-parser not installed")
    for name, fn in parsers.items():
        correct = sum(keep in fn(t) and drop not in fn(t) for t, keep, drop in texts)
        print(f"  {name:20} {correct}/{len(texts)} correct   {timeit(fn, [t for t, _, _ in texts], 100):6.0f} µs per message")


if __name__ == "__main__":
    main()
