"""parse() against the shared corpus of real-world mail (../shared/corpus, see its README.md).

For the 106 Zammad messages with an expectation (.yml), four fields are compared:

- sender: `from_email`, lower-cased, ignoring double quotes and angle brackets. Zammad keeps
  broken From: values as sent (`"a@b.example"` with its quotes, `"x"@b.example>` with a stray
  `>`); we return the address inside them.
- subject: equal after collapsing whitespace (a null subject counts as "").
- attachments: the number of real attachments; Zammad's extra `message.html` copy of an HTML
  body (`content-alternative`) is not one.
- body: a fragment of Zammad's body must appear in ours. The fragment is the first 60 characters
  of the expected body once HTML tags are stripped (for text/html bodies, entities decoded) and
  all whitespace is removed; ours is `text`, and `html` with the same stripping, both without
  whitespace. Empty bodies (Zammad's placeholder `no visible content`) are not checked.

Where Zammad's expectation is itself wrong (mojibake from a charset it does not decode), the test
asserts our value instead: CORRECTIONS, each with its reason. Mismatches we cannot fix go in
KNOWN_MISMATCHES with the reason; any other mismatch fails the test, so a regression shows.

All 189 corpus files must parse without an exception.
"""

from __future__ import annotations

import html as html_lib
import re

import pytest

from helpdesk.mail.parsing import ParsedMail, parse
from tests.mail.corpus import CORPUS, corpus_files, expectation, real_attachments

pytestmark = pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").is_file(),
                                reason=f"the mail corpus is not there: {CORPUS}")

FIELDS = ("sender", "subject", "attachments", "body")
FRAGMENT = 60
EMPTY_BODY = "no visible content"

# (file, field) -> (the value to assert instead of Zammad's, why). Body values are fragments in
# the compared form (no whitespace).
CORRECTIONS: dict[tuple[str, str], tuple[object, str]] = {
    ("mail018.box", "subject"): (
        "Benachrichtung zum Übermittlungsstatus (Fehlgeschlagen)",
        "the encoded word's charset is unicode-1-1-utf-7; Zammad leaves the UTF-7 text as sent "
        "(`+ANw-bermittlungsstatus`), +ANw- is Ü"),
    ("mail018.box", "body"): (
        "DiesisteineautomatischerstellteBenachrichtigungüberdenZustellstatus",
        "the text part is unicode-1-1-utf-7 too; Zammad keeps `+APw-`, which is ü"),
    ("mail060.box", "body"): (
        "Hereitgoes-äöü-差出人Hereitgoes-äöü-hi",
        "charset iso-gb2312 is unknown and the part is UTF-8 followed by Latin-1 bytes; Zammad's "
        "expectation reads the UTF-8 as a Windows-125x code page (`Ă¤ĂśĂź`), we decode both"),
    ("mail072.box", "body"): (
        "Bonjour,Jevouscontactesuiteàmacommandedu14août2018référencée",
        "the part is windows-1258, which Zammad decodes as another code page (`suite ŕ ma`, "
        "`aoűt`); Python decodes windows-1258"),
    ("mail087.box", "attachments"): (
        1,
        "the second part has no Content-Type, so it is text/plain (RFC 2045) and we take it as "
        "the body; Zammad (Ruby mail) sees no type and stores it as an attachment named `file`"),
    ("mail087.box", "body"): (
        "SehrgeehrterKunde,SiehabensoebeneinneuesFaxvon+491234",
        "see the attachments correction: the text Zammad stored as `file` is our body"),
}

# (file, field) -> why we do not match. Empty: every difference left is a correction above.
KNOWN_MISMATCHES: dict[tuple[str, str], str] = {}

_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.S | re.I)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\xad"))


def squash(text: str) -> str:
    return "".join((text or "").translate(_INVISIBLE).split())


def html_text(markup: str) -> str:
    return html_lib.unescape(_TAGS.sub(" ", markup or ""))


def address(value: str) -> str:
    return re.sub(r"[\"<>]", "", value or "").strip().lower()


def expected_values(expected: dict) -> dict[str, object]:
    body = expected.get("body") or ""
    if body.strip() == EMPTY_BODY:
        fragment = ""
    else:
        fragment = squash(html_text(body) if expected.get("content_type") == "text/html"
                          else body)[:FRAGMENT]
    return {
        "sender": address(expected.get("from_email")),
        "subject": " ".join((expected.get("subject") or "").split()),
        "attachments": len(real_attachments(expected)),
        "body": fragment,
    }


def our_values(mail: ParsedMail) -> dict[str, object]:
    return {
        "sender": address(mail.sender),
        "subject": " ".join(mail.subject.split()),
        "attachments": len(mail.attachments),
        "body": squash(mail.text) + "\n" + squash(html_text(mail.html)),
    }


def agrees(field: str, want: object, got: object) -> bool:
    return want in got if field == "body" else want == got


def test_zammad_expectations():
    cases = [(path, expectation(path)) for path in corpus_files()]
    cases = [(path, expected) for path, expected in cases if expected is not None]
    assert len(cases) == 106

    counts = {f: {"checked": 0, "zammad": 0, "corrected": 0, "known": 0} for f in FIELDS}
    failures, unused = [], set(CORRECTIONS) | set(KNOWN_MISMATCHES)
    for path, expected in cases:
        want, got = expected_values(expected), our_values(parse(path.read_bytes()))
        for field in FIELDS:
            if field == "body" and not want["body"] and (path.name, field) not in CORRECTIONS:
                continue  # an empty body: nothing to look for
            counts[field]["checked"] += 1
            key = (path.name, field)
            if key in CORRECTIONS:
                unused.discard(key)
                value, _ = CORRECTIONS[key]
                if agrees(field, value, got[field]):
                    counts[field]["corrected"] += 1
                else:
                    failures.append(f"{path.name} {field}: corrected {value!r}, got "
                                    f"{str(got[field])[:120]!r}")
            elif agrees(field, want[field], got[field]):
                counts[field]["zammad"] += 1
                if key in KNOWN_MISMATCHES:
                    failures.append(f"{path.name} {field}: matches now, remove it from "
                                    f"KNOWN_MISMATCHES")
            elif key in KNOWN_MISMATCHES:
                unused.discard(key)
                counts[field]["known"] += 1
            else:
                failures.append(f"{path.name} {field}: want {want[field]!r}, got "
                                f"{str(got[field])[:120]!r}")

    summary = "\n".join(
        f"{field:12} {c['zammad']:3} agree with Zammad + {c['corrected']} corrected "
        f"+ {c['known']} known mismatches, of {c['checked']} checked"
        for field, c in counts.items())
    print("\nZammad corpus, per field:\n" + summary)
    assert not failures, "\n".join(failures) + "\n\n" + summary
    assert not unused, f"CORRECTIONS/KNOWN_MISMATCHES entries for no mismatch: {unused}"


def test_every_corpus_file_parses():
    files = corpus_files()
    assert len(files) == 189
    problems = []
    for path in files:
        try:
            mail = parse(path.read_bytes())
        except Exception as error:  # noqa: BLE001 - the point of the test
            problems.append(f"{path.relative_to(CORPUS)}: {error!r}")
            continue
        if not (isinstance(mail, ParsedMail) and mail.message_id and isinstance(mail.text, str)
                and isinstance(mail.html, str) and all(isinstance(a.data, bytes)
                                                       for a in mail.attachments)):
            problems.append(f"{path.relative_to(CORPUS)}: incomplete result {mail!r:.200}")
    assert not problems, "\n".join(problems)
