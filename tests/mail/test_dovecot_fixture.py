"""The `dovecot` fixture itself: a real IMAP server that tests can deliver mail to."""

from __future__ import annotations

import time

import pytest

RAW = (
    b"From: Customer <customer@example.org>\r\n"
    b"To: support@acme.test\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9_order?=\r\n"
    b"Message-ID: <fixture-1@example.org>\r\n"
    b"Date: Sat, 21 Nov 2026 12:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Bonjour, o\xc3\xb9 est ma commande ?\r\n"
)


def test_appended_message_reads_back_byte_for_byte_and_unseen(dovecot):
    address, password = dovecot.new_account()

    uid = dovecot.append(address, password, RAW)

    assert dovecot.messages(address, password) == {uid: RAW}
    assert b"\\Seen" not in dovecot.seen_flags(address, password)[uid]
    client = dovecot.client(address, password)
    try:
        client.select_folder("INBOX")
        fetched = client.fetch([uid], ["BODY.PEEK[]", "FLAGS"])[uid]
        assert fetched[b"BODY[]"] == RAW
        assert b"\\Seen" not in fetched[b"FLAGS"]
    finally:
        client.logout()
    assert b"\\Seen" not in dovecot.seen_flags(address, password)[uid]  # PEEK left it unread


def test_append_with_flags_into_a_new_folder(dovecot):
    address, password = dovecot.new_account()
    dovecot.create_folder(address, password, "Support")

    uid = dovecot.append(address, password, RAW, folder="Support", flags=[b"\\Seen"])

    assert dovecot.seen_flags(address, password, "Support") == {uid: (b"\\Seen",)}
    assert dovecot.messages(address, password) == {}  # INBOX untouched


def test_new_accounts_are_isolated_and_log_in_at_once(dovecot):
    from imapclient.exceptions import LoginError

    first, first_password = dovecot.new_account()
    dovecot.append(first, first_password, RAW)
    # Added after Dovecot has read the users file: it must notice the change right away.
    second, second_password = dovecot.new_account()

    assert first != second
    assert dovecot.messages(second, second_password) == {}
    assert len(dovecot.messages(first, first_password)) == 1
    with pytest.raises(LoginError):
        dovecot.client(second, first_password)
    started = time.monotonic()  # no "auth penalty" delay after a failed login
    dovecot.client(second, second_password).logout()
    assert time.monotonic() - started < 1


def test_add_user_with_a_chosen_address(dovecot):
    dovecot.add_user("helpdesk-fixture@acme.test", "s3cret pass")
    dovecot.add_user("helpdesk-fixture@acme.test", "s3cret pass")  # again: nothing changes
    dovecot.client("helpdesk-fixture@acme.test", "s3cret pass").logout()
    with pytest.raises(ValueError):
        dovecot.add_user("helpdesk-fixture@acme.test", "another password")
    with pytest.raises(ValueError):
        dovecot.add_user("bad:user@acme.test", "x")
    with pytest.raises(ValueError):
        dovecot.add_user("../escape@acme.test", "x")
    dovecot.add_user("support+tag@acme.test", "pw")  # plus addressing is a valid login
    dovecot.client("support+tag@acme.test", "pw").logout()


def test_more_connections_than_dovecots_default_limit(dovecot):
    address, password = dovecot.new_account()
    clients = []
    try:
        for _ in range(12):  # Dovecot's default mail_max_userip_connections is 10
            clients.append(dovecot.client(address, password))
            clients[-1].select_folder("INBOX", readonly=True)
    finally:
        for client in clients:
            client.logout()
    assert len(clients) == 12


@pytest.mark.parametrize("folder", ["INBOX", "Archive"])
def test_change_uidvalidity(dovecot, folder):
    address, password = dovecot.new_account()
    if folder != "INBOX":
        dovecot.create_folder(address, password, folder)
    uid = dovecot.append(address, password, RAW, folder=folder)
    client = dovecot.client(address, password)
    try:
        before = client.select_folder(folder, readonly=True)[b"UIDVALIDITY"]
    finally:
        client.logout()

    old, new = dovecot.change_uidvalidity(address, password, folder)

    assert old == before
    assert new != old
    client = dovecot.client(address, password)
    try:
        assert client.select_folder(folder, readonly=True)[b"UIDVALIDITY"] == new
        assert client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"] == RAW  # mail kept
    finally:
        client.logout()
    assert dovecot.change_uidvalidity(address, password, folder)[1] != new  # again


def test_change_uidvalidity_drops_a_connection_that_has_the_folder_open(dovecot):
    from imapclient import IMAPClient

    address, password = dovecot.new_account()
    dovecot.append(address, password, RAW)
    client = dovecot.client(address, password)
    try:
        client.select_folder("INBOX")
        dovecot.change_uidvalidity(address, password)
        with pytest.raises(IMAPClient.AbortError):
            client.noop()
    finally:
        client.shutdown()
