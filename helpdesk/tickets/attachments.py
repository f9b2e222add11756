"""Attachment files on the local filesystem under ATTACHMENTS_DIR, one folder per org.

Files are named by a random key, never by the uploaded name; downloads are served by the
desk and the API only to the attachment's org (the row is tenant-scoped).
"""

from __future__ import annotations

import hashlib
import mimetypes
import secrets
import unicodedata
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import event

from helpdesk.core.exceptions import ValidationFailed
from helpdesk.extensions import db
from helpdesk.tickets.models import Attachment, Message

CHUNK = 1024 * 1024


def storage_root() -> Path:
    return Path(current_app.config["ATTACHMENTS_DIR"])


def max_size() -> int:
    return current_app.config["MAX_ATTACHMENT_SIZE"]


def safe_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*\x00').strip(". ")
    return name[:200] or "attachment"


def save_attachment(message: Message, filename: str, stream: BinaryIO,
                    content_type: str | None = None, content_id: str | None = None) -> Attachment:
    """Store the stream and its row. Raises ValidationFailed past MAX_ATTACHMENT_SIZE."""
    limit = max_size()
    key = f"{message.org_id}/{secrets.token_hex(16)}"
    path = storage_root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    try:
        with open(path, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ValidationFailed(
                        f"{safe_filename(filename)} is too large: attachments may be at most "
                        f"{limit // (1024 * 1024)} MB.",
                        {"attachments": f"at most {limit // (1024 * 1024)} MB per file"},
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    db.session.info.setdefault(_NEW_FILES, []).append(path)
    name = safe_filename(filename)
    guessed = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    attachment = Attachment(org_id=message.org_id, message_id=message.id, filename=name,
                            content_type=guessed.split(";")[0].strip().lower()[:127], size=size,
                            sha256=digest.hexdigest(), storage_key=key, content_id=content_id)
    db.session.add(attachment)
    return attachment


_NEW_FILES = "attachments_written"


def write_file(org_id: int, data: bytes) -> tuple[str, str]:
    """Store bytes already in memory (mail attachments); returns (storage key, sha256). The
    file goes away if the transaction rolls back, like save_attachment's."""
    key = f"{org_id}/{secrets.token_hex(16)}"
    path = storage_root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    db.session.info.setdefault(_NEW_FILES, []).append(path)
    return key, hashlib.sha256(data).hexdigest()


def forget_files_since(count: int) -> None:
    """A savepoint rolled back: remove the files written after the first `count`."""
    written = db.session.info.get(_NEW_FILES, [])
    for path in written[count:]:
        path.unlink(missing_ok=True)
    del written[count:]


def files_written() -> int:
    return len(db.session.info.get(_NEW_FILES, []))


def _forget_files(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the files still go if the transaction rolls back
    session.info.pop(_NEW_FILES, None)


def _remove_files(session, previous_transaction) -> None:
    """A rolled-back transaction takes its attachment files with it: no orphans on disk."""
    if previous_transaction.nested:
        return  # only a savepoint rolled back
    for path in session.info.pop(_NEW_FILES, []):
        path.unlink(missing_ok=True)


def install(session_class) -> None:
    if not event.contains(session_class, "after_commit", _forget_files):
        event.listen(session_class, "after_commit", _forget_files)
        event.listen(session_class, "after_soft_rollback", _remove_files)


def attachment_path(attachment: Attachment) -> Path:
    root = storage_root().resolve()
    path = (root / attachment.storage_key).resolve()
    if root not in path.parents:  # a tampered key must not escape the folder
        raise ValueError("attachment path outside the storage folder")
    return path


# Types a browser may display inline; everything else downloads.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf",
                "text/plain"}
