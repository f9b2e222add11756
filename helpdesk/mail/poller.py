"""Fetch new mail from a mailbox by UID and store it raw (InboundEmail) before anything else.

UIDs only mean something with the folder's UIDVALIDITY: when it changes, polling starts over
from UID 1 and the (mailbox, Message-ID) unique key drops what we already have. Mail is read
with BODY.PEEK[] (no \\Seen flag) and nothing is flagged or deleted unless the tenant chose
"mark as read". Rows and the mailbox's last UID are committed together per chunk: a crash
refetches at most one chunk, which the unique key then ignores.
"""

from __future__ import annotations

import email.policy
import hashlib
import logging
from collections.abc import Callable
from email.parser import BytesHeaderParser

from flask import current_app
from imapclient import SEEN
from imapclient.exceptions import IMAPClientError
from sqlalchemy.dialects.postgresql import insert as pg_insert

from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.mail import imap
from helpdesk.mail.models import InboundEmail, InboundStatus, Mailbox
from helpdesk.mail.parsing import message_ids, parse

log = logging.getLogger(__name__)
FETCH_CHUNK = 200
SIZE_CHUNK = 2000  # UIDs per size query: a command line stays far below Dovecot's 64 KB


def dedupe_key(raw: bytes) -> str:
    """The mail's Message-ID ("<id>"), or a digest of its bytes when it has none."""
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    head = raw[: end if end >= 0 else 65536]
    try:
        value = BytesHeaderParser(policy=email.policy.compat32).parsebytes(head).get("message-id")
    except Exception:  # noqa: BLE001 - a broken header block dedupes by digest
        value = None
    ids = message_ids(str(value) if value else None)
    if ids:
        return ids[0]
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@no-message-id>"


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(size // 1024, 1)} KB"


def store(org_id: int, mailbox_id: int | None, mails: list[tuple[int | None, bytes]],
          *, too_large: dict[int, int] | None = None) -> int:
    """Insert raw mails (uid, bytes); duplicates are skipped. Returns how many were new."""
    if not mails:
        return 0
    limit = current_app.config["MAX_INBOUND_MAIL_SIZE"]
    rows = []
    for uid, raw in mails:
        row = {"org_id": org_id, "mailbox_id": mailbox_id, "uid": uid,
               "message_id": dedupe_key(raw), "raw": raw, "size": len(raw),
               "status": InboundStatus.RECEIVED.value, "received_at": utcnow(), "error": "",
               "classification": "", "sender": "", "subject": ""}
        size = (too_large or {}).get(uid) if uid is not None else None
        if size is not None or len(raw) > limit:
            headers = parse(raw[:65536])  # who wrote about what, for the mail log
            row.update(status=InboundStatus.QUARANTINED.value, size=size or len(raw),
                       classification="too_large", sender=headers.sender[:254],
                       subject=headers.subject[:500])
            row["error"] = (f"too large: {human_size(row['size'])} (the limit is "
                            f"{human_size(limit)}); only its headers were kept")
        rows.append(row)
    # executemany (batched VALUES by SQLAlchemy) compiles once; .values(rows) would compile a
    # new statement per chunk.
    result = db.session.execute(
        pg_insert(InboundEmail.__table__)
        .on_conflict_do_nothing(constraint="uq_inbound_emails_org_id_mailbox_id_message_id")
        .returning(InboundEmail.__table__.c.id), rows)
    return len(result.all())


def fetch_new(mailbox: Mailbox, on_chunk: Callable[[int], None] | None = None) -> int:
    """Fetch and store everything past the last UID, committing per chunk. Returns how many new
    mails were stored. Raises imap.MailboxError."""
    limit = current_app.config["MAX_INBOUND_MAIL_SIZE"]
    client = imap.connect(mailbox)
    stored = 0
    try:
        info = imap.select(client, mailbox, readonly=not mailbox.mark_as_read)
        uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        if mailbox.uidvalidity != uidvalidity:
            if mailbox.uidvalidity is not None:
                log.warning("mailbox %s: UIDVALIDITY changed %s -> %s, resyncing", mailbox.id,
                            mailbox.uidvalidity, uidvalidity)
            mailbox.uidvalidity, mailbox.last_uid = uidvalidity, 0
            db.session.commit()
        last = mailbox.last_uid
        # Sizes of everything new in one round trip: large mail is never downloaded whole.
        new = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
        sizes: dict[int, int] = {}
        for start in range(0, len(new), SIZE_CHUNK):  # bounded command lines
            for uid, data in client.fetch(new[start:start + SIZE_CHUNK],
                                          ["RFC822.SIZE"]).items():
                sizes[uid] = int(data.get(b"RFC822.SIZE", 0))
        uids = sorted(sizes)
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = uids[start:start + FETCH_CHUNK]
            large = {uid: sizes[uid] for uid in chunk if sizes[uid] > limit}
            small = [u for u in chunk if u not in large]
            mails = []
            if small:
                for uid, data in client.fetch(small, ["BODY.PEEK[]"]).items():
                    mails.append((uid, data.get(b"BODY[]") or b""))
            if large:  # never pull 100 MB into memory: keep the headers, quarantine the mail
                for uid, data in client.fetch(list(large), ["BODY.PEEK[HEADER]"]).items():
                    mails.append((uid, data.get(b"BODY[HEADER]") or b""))
            mails.sort(key=lambda item: item[0])
            stored += store(mailbox.org_id, mailbox.id, mails, too_large=large)
            mailbox.last_uid = max(chunk)
            db.session.commit()
            if mailbox.mark_as_read and small:
                client.add_flags(small, [SEEN], silent=True)
            if on_chunk is not None:
                on_chunk(stored)
    except (IMAPClientError, OSError) as error:  # connection dropped, server restarted ...
        raise imap.MailboxError(f"IMAP error while reading {mailbox.folder}: {error}") from error
    finally:
        imap.close(client)
    return stored
