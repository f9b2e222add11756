"""parse(): never raises, whatever comes in, and reads the broken mail real senders send."""

from __future__ import annotations

import base64
import random
import time

import pytest

from helpdesk.mail.parsing import ParsedMail, decode_text, decode_words, message_ids, parse


def mail(*headers: str, body: bytes | str = b"Hello\n", crlf: bool = False) -> bytes:
    head = "\n".join(headers).encode("utf-8", errors="surrogateescape")
    raw = head + b"\n\n" + (body.encode() if isinstance(body, str) else body)
    return raw.replace(b"\n", b"\r\n") if crlf else raw


def multipart(kind: str, *parts: bytes, headers: tuple[str, ...] = ()) -> bytes:
    boundary = f"b-{kind}-{len(parts)}-{sum(map(len, parts))}"
    body = b"".join(b"--" + boundary.encode() + b"\n" + p + b"\n" for p in parts)
    body += b"--" + boundary.encode() + b"--\n"
    return mail(*headers, f'Content-Type: multipart/{kind}; boundary="{boundary}"',
                body=body)


def part(content_type: str, body: bytes | str, *extra: str) -> bytes:
    head = "\n".join((f"Content-Type: {content_type}", *extra)).encode()
    return head + b"\n\n" + (body.encode() if isinstance(body, str) else body)


def assert_sane(result: ParsedMail) -> None:
    assert isinstance(result, ParsedMail)
    assert result.message_id.startswith("<") and result.message_id.endswith(">")
    for text in (result.subject, result.sender, result.text, result.html, result.sender_name):
        assert isinstance(text, str) and "\x00" not in text
    assert all(isinstance(a.data, bytes) and a.filename for a in result.attachments)


# --- garbage in, something sane out ----------------------------------------------------------

def test_empty_bytes():
    result = parse(b"")
    assert_sane(result)
    assert (result.sender, result.subject, result.text, result.attachments) == ("", "", "", [])
    assert not result.has_message_id


@pytest.mark.parametrize("seed", range(20))
def test_random_binary(seed):
    rng = random.Random(seed)
    raw = bytes(rng.randrange(256) for _ in range(rng.choice((1, 50, 2000, 20000))))
    assert_sane(parse(raw))


def test_random_binary_after_headers():
    rng = random.Random(7)
    raw = mail("From: a@example.com", "Subject: binary", "Content-Type: text/plain",
               body=bytes(rng.randrange(256) for _ in range(5000)))
    result = parse(raw)
    assert_sane(result)
    assert result.sender == "a@example.com" and result.text


def test_other_input_types_do_not_raise():
    assert parse("From: a@example.com\n\nhi").sender == "a@example.com"  # type: ignore[arg-type]
    assert parse(bytearray(b"From: a@example.com\n\nhi")).text == "hi"  # type: ignore[arg-type]
    assert_sane(parse(None))  # type: ignore[arg-type]


def test_header_only():
    result = parse(b"From: Sam <sam@example.com>\r\nSubject: only headers\r\n")
    assert_sane(result)
    assert (result.sender, result.subject, result.text) == ("sam@example.com", "only headers", "")


def test_no_from():
    result = parse(mail("To: support@example.com", "Subject: who am I"))
    assert_sane(result)
    assert (result.sender, result.sender_source) == ("", "")
    assert result.recipients == ["support@example.com"]


def test_unknown_charset():
    result = parse(mail("From: a@example.com", "Content-Type: text/plain; charset=x-unknown",
                        "Subject: =?x-unknown?Q?caf=C3=A9?=", body="café\n".encode()))
    assert result.text == "café\n"
    assert result.subject == "café"


def test_wrong_declared_charset():
    result = parse(mail("From: a@example.com", "Content-Type: text/plain; charset=utf-8",
                        body="Grüße aus Köln\n".encode("latin-1")))
    assert result.text == "Grüße aus Köln\n"
    assert any("charset fallback" in note for note in result.defects)


def test_nul_bytes():
    result = parse(mail("From: a@exa\x00mple.com", "Subject: a\x00b", body=b"x\x00y\n"))
    assert_sane(result)
    assert result.subject == "ab" and result.text == "xy\n"


def test_in_reply_to_with_comment():
    result = parse(mail("From: a@example.com", "In-Reply-To: <a@b> (Sam's message of \"Mon\")"))
    assert result.in_reply_to == ["<a@b>"]


def test_references_without_angle_brackets():
    result = parse(mail("From: a@example.com", "References: one@example.com two@example.com"))
    assert result.references == ["<one@example.com>", "<two@example.com>"]
    assert message_ids("x@y, (a comment) z@w") == ["<x@y>", "<z@w>"]


def test_message_id_without_angle_brackets():
    result = parse(mail("From: a@example.com", "Message-Id: 20180802.58E7@mail.example.com"))
    assert result.message_id == "<20180802.58E7@mail.example.com>" and result.has_message_id


def test_huge_header_line():
    raw = mail("From: a@example.com", "Subject: " + "x" * 2_000_000,
               "X-Junk: " + "=?" * 200_000, "To: " + "b@example.com, " * 20_000)
    started = time.perf_counter()
    result = parse(raw)
    assert time.perf_counter() - started < 5
    assert result.subject == "x" * 2_000_000
    assert result.sender == "a@example.com" and "b@example.com" in result.recipients
    junk = mail("From: " + "<" * 200_000, "To: " + "(" * 200_000, "Reply-To: " + '"' * 200_000)
    started = time.perf_counter()
    assert_sane(parse(junk))
    assert time.perf_counter() - started < 5


def test_many_unnamed_parts():
    raw = multipart("mixed", *[part("image/png", "AAAA") for _ in range(3000)])
    started = time.perf_counter()
    names = [a.filename for a in parse(raw).attachments]
    assert time.perf_counter() - started < 5
    assert names[:3] == ["image.png", "image1.png", "image2.png"] and names[-1] == "image2999.png"


def test_deep_nesting_does_not_raise():
    raw = b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b0\n\n"
    for depth in range(1, 3000):
        raw += f"--b{depth - 1}\nContent-Type: multipart/mixed; boundary=b{depth}\n\n".encode()
    assert_sane(parse(raw))


def test_html_only():
    result = parse(mail("From: a@example.com", "Content-Type: text/html; charset=utf-8",
                        body="<p>Hi <b>there</b></p>"))
    assert (result.text, result.html, result.attachments) == ("", "<p>Hi <b>there</b></p>", [])


def test_inline_cid_image():
    raw = multipart(
        "related",
        part("text/html; charset=utf-8", '<img src="cid:logo@example.com">'),
        part("image/png", "iVBORw0KGgo=", "Content-Transfer-Encoding: base64",
             "Content-ID: < logo@example.com >", "Content-Disposition: inline"),
        headers=("From: a@example.com",))
    [image] = parse(raw).attachments
    assert (image.content_id, image.content_type, image.data) == (
        "logo@example.com", "image/png", b"\x89PNG\r\n\x1a\n")
    assert image.filename == "image.png"


# --- senders ---------------------------------------------------------------------------------

def test_sender_skips_garbage_and_empty_from():
    raw = mail("From: [??????]", "Reply-To: r@example.com",
               "From: =?utf-8?B?6YO955C5?= <real@example.com>")
    result = parse(raw)
    assert (result.sender, result.sender_name, result.sender_source) == (
        "real@example.com", "都琹", "from")


def test_sender_falls_back_to_reply_to():
    result = parse(mail('From: "Me" <>', "Reply-To: <Help@Example.com>"))
    assert (result.sender, result.sender_source, result.reply_to) == (
        "help@example.com", "reply-to", "help@example.com")


def test_sender_display_name_that_looks_like_an_address():
    result = parse(mail('From: "boss@example.com" <attacker@example.net>'))
    assert (result.sender, result.sender_name) == ("attacker@example.net", "boss@example.com")


def test_sender_without_domain():
    assert parse(mail("From: MAILER-DAEMON (Mail Delivery System)")).sender == "mailer-daemon"


# --- headers ---------------------------------------------------------------------------------

def test_utf7_encoded_word_with_spaces():
    raw = mail("Subject: Benachrichtung\n\tzum\n\t=?unicode-1-1-utf-7?Q?+ANw-bermittlungsstatus\n"
               "\t(Fehlgeschlagen)?=")
    assert parse(raw).subject == "Benachrichtung zum Übermittlungsstatus (Fehlgeschlagen)"


def test_encoded_words_split_inside_a_character_and_gbk_labelled_gb2312():
    utf8 = "Grüße".encode()
    words = " ".join("=?utf-8?Q?" + "".join(f"={b:02X}" for b in utf8[i:i + 3]) + "?="
                     for i in range(0, len(utf8), 3))
    assert decode_words(words) == "Grüße"
    gbk = base64.b64encode("內應力產生".encode("gbk")).decode()  # not GB2312: 內 is GBK only
    assert decode_words(f"=?GB2312?B?{gbk}?=") == "內應力產生"


def test_raw_8bit_subject_in_the_body_charset():
    raw = mail("From: a@example.com", "Subject: 转发：整体提升".encode("gbk").decode(
        "utf-8", errors="surrogateescape"), "Content-Type: text/plain; charset=gb2312",
        body="你好\n".encode("gbk"))
    result = parse(raw)
    assert result.subject == "转发：整体提升"
    assert result.text == "你好\n"


def test_raw_8bit_utf8_headers():
    raw = "From: Jürgen <j@example.com>\nSubject: Grüße\n\nHallo\n".encode()
    result = parse(raw)
    assert (result.subject, result.sender_name) == ("Grüße", "Jürgen")


def test_raw_8bit_inside_an_encoded_word():
    result = parse("From: a@example.com\nSubject: =?utf-8?Q?caf\u00e9_ol=C3=A9?=\n\nhi\n".encode())
    assert (result.subject, result.defects) == ("café olé", [])


def test_stray_lines_in_the_header_block():
    raw = (b"---- Original email message ----\r\n"
           b"Received: from a\r\nby b with ESMTP\r\n"
           b"X-Tracker: abc\r\ndef-no-indent\r\n"
           b"Subject : spaced name\r\n"
           b"From: sam@example.com\r\n\r\nBody\r\n")
    result = parse(raw)
    assert (result.sender, result.subject, result.text) == (
        "sam@example.com", "spaced name", "Body\n")
    assert "header block repaired" in result.defects


def test_body_without_blank_line_stays_body():
    result = parse(b"From: a@example.com\nSubject: s\nthis is the body\n\nmore\n")
    assert result.subject == "s"
    assert result.text.startswith("this is the body")


# --- bodies ----------------------------------------------------------------------------------

def test_iso_2022_jp_with_vendor_characters():
    body = "①１都".encode("cp932")  # ① only exists in the vendor (NEC) extension
    jis = bytearray(b"\x1b$B")
    for lead, trail in zip(body[::2], body[1::2], strict=True):  # Shift_JIS -> JIS X 0208
        row = (lead - (0x70 if lead < 0xA0 else 0xB0)) * 2 - (1 if trail < 0x9F else 0)
        cell = trail - (0x1F if trail < 0x7F else 0x20 if trail < 0x9F else 0x7E)
        jis += bytes((row, cell))
    jis += b"\x1b(B\n"
    result = parse(mail("Content-Type: text/plain; charset=iso-2022-jp", body=bytes(jis)))
    assert result.text == "①１都\n"


def test_iso_2022_jp_plain_ascii_bytes_are_decoded():
    body = "カテゴリ".encode("iso2022_jp") + b"\n"
    assert body.isascii()
    assert parse(mail("Content-Type: text/plain; charset=ISO-2022-JP", body=body)).text == \
        "カテゴリ\n"


def test_undeclared_gbk_body_is_guessed():
    text = "机房环境法规，我们的公司提供服务，请联系我们。这是一个问题。"
    result = parse(mail("From: a@example.com", body=text.encode("gbk")))
    assert result.text == text


def test_undeclared_latin1_body_is_windows_1252():
    text = "Müller “quoted” café\n"
    assert parse(mail("From: a@example.com", body=text.encode("cp1252"))).text == text


def test_text_parts_of_a_mixed_mail_are_joined():
    raw = multipart("mixed", part("text/plain", "first"),
                    part("image/png", "iVBORw0KGgo=", "Content-Transfer-Encoding: base64",
                         'Content-Disposition: inline; filename="shot.png"'),
                    part("text/plain", "second\n"))
    result = parse(raw)
    assert result.text == "first\nsecond\n"
    assert [a.filename for a in result.attachments] == ["shot.png"]


def test_one_alternative_gives_the_text_and_extra_html_parts_are_attachments():
    raw = multipart(
        "alternative", part("text/plain", "plain version"),
        part("text/plain", "other plain version"),
        multipart("mixed", part("text/html", "<p>one</p>"), part("text/html", "<p>two</p>"),
                  part("text/html", "<p>three</p>")))
    result = parse(raw)
    assert result.text == "plain version"
    assert result.html == "<p>one</p>"
    assert [(a.filename, a.data) for a in result.attachments] == [
        ("document.html", b"<p>two</p>"), ("document1.html", b"<p>three</p>")]


def test_unnamed_parts_get_names():
    raw = multipart(
        "mixed", part("text/plain", "body"),
        part("text/plain", "log line", "Content-Disposition: attachment"),
        part("image/jpeg", "/9j/", "Content-Transfer-Encoding: base64",
             "Content-ID: <image001.jpg@01CDB132.D8A510F0>"),
        part("application/pgp-encrypted", "Version: 1"),
        part("video/quicktime", "AAAA", "Content-Transfer-Encoding: base64"),
        part("video/quicktime", "AAAA", "Content-Transfer-Encoding: base64"))
    assert [a.filename for a in parse(raw).attachments] == [
        "document.txt", "image001.jpg", "file", "video.mov", "video1.mov"]


def test_attached_message_is_one_attachment_named_by_its_subject():
    inner = mail("From: x@example.com", "Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe_/_hi?=",
                 "Content-Type: multipart/mixed; boundary=in",
                 body=b"--in\n" + part("image/png", "iVBORw0KGgo=",
                                       "Content-Transfer-Encoding: base64",
                                       'Content-Disposition: attachment; filename="a.png"')
                 + b"\n--in--\n")
    raw = multipart("mixed", part("text/plain", "see attached"),
                    b"Content-Type: message/rfc822\nContent-Disposition: attachment\n\n" + inner)
    [attached] = parse(raw).attachments
    assert (attached.filename, attached.content_type) == ("Grüße _ hi.eml", "message/rfc822")
    assert b"Subject:" in attached.data


def test_delivery_report():
    raw = multipart(
        "report", part("text/plain", "Your mail could not be delivered."),
        b"Content-Type: message/delivery-status\nContent-Description: Delivery report\n\n"
        b"Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; gone@example.com\n"
        b"Action: failed\nStatus: 5.1.1\n",
        b"Content-Type: text/rfc822-headers\n\nMessage-ID: <ours@example.com>\n",
        headers=("From: MAILER-DAEMON@example.com", "Subject: Undelivered Mail"))
    result = parse(raw)
    assert result.text == "Your mail could not be delivered."
    report, headers = result.attachments
    assert (report.filename, report.content_type) == ("Delivery report.txt",
                                                      "message/delivery-status")
    assert b"Final-Recipient: rfc822; gone@example.com" in report.data
    assert headers.content_type == "text/rfc822-headers" and b"<ours@example.com>" in headers.data


def test_filenames_raw_8bit_encoded_and_with_paths():
    raw = multipart(
        "mixed",
        part("application/pdf", "JVBERg==", "Content-Transfer-Encoding: base64",
             'Content-Disposition: attachment; filename="Hofjägerallee.pdf"'.encode().decode(
                 "utf-8", errors="surrogateescape")),
        part("application/pdf", "JVBERg==", "Content-Transfer-Encoding: base64",
             'Content-Disposition: attachment; filename="=?utf-8?Q?K=C3=B6ln.pdf?="'),
        part("application/pdf", "JVBERg==", "Content-Transfer-Encoding: base64",
             "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20..%2F..%2Fx.pdf"),
        part("application/pdf", "JVBERg==", "Content-Transfer-Encoding: base64",
             'Content-Disposition: attachment; filename="C:\\\\Users\\\\me\\\\Tax  2024.pdf"'))
    assert [a.filename for a in parse(raw).attachments] == [
        "Hofjägerallee.pdf", "Köln.pdf", "x.pdf", "Tax  2024.pdf"]


def test_decode_text_never_raises():
    assert decode_text(b"\xff\xfe\x00", "no-such-charset") == "ÿþ\x00"
    assert decode_text(b"abc", "base64") == "abc"  # not a text encoding: ignored
    assert decode_text("ü".encode("cp1252"), "iso-8859-1") == "ü"
    assert decode_text("€".encode("cp1252"), "iso-8859-1") == "€"  # Windows-1252, as labelled
