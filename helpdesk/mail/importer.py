"""`flask mail import PATH`: an .eml file, an mbox or a Maildir (moving from another tool) goes
through the same pipeline as polled mail; importing twice adds nothing (Message-ID dedupe)."""

from __future__ import annotations

import mailbox as mailboxes
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.mail import pipeline, poller
from helpdesk.mail.models import InboundEmail, InboundStatus

CHUNK = 200


def _is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def _is_mbox(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(5) == b"From "


def read_mails(path: Path) -> Iterator[bytes]:
    """Raw mails from a Maildir, a folder of .eml files, an mbox or one .eml file.
    Raises FileNotFoundError / ValueError with what is wrong."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if _is_maildir(path):
        box = mailboxes.Maildir(path, factory=None, create=False)
        # Arrival order: Maildir names start with the delivery time.
        for key in sorted(box.keys()):
            with box.get_file(key) as handle:
                yield handle.read()
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise ValueError(f"{path} holds no mail files")
        for file in files:
            yield from read_mails(file)
    elif _is_mbox(path) and path.suffix.lower() != ".eml":
        box = mailboxes.mbox(path, factory=None, create=False)
        try:
            for key in box.iterkeys():
                yield box.get_bytes(key, from_=False)
        finally:
            box.close()
    else:
        yield path.read_bytes()


def import_path(org_id: int, path: Path) -> dict[str, int]:
    """Store everything (committing per chunk), then process it. Returns counts."""
    stored = total = 0
    chunk: list[tuple[None, bytes]] = []
    for raw in read_mails(path):
        total += 1
        chunk.append((None, raw))
        if len(chunk) >= CHUNK:
            stored += poller.store(org_id, None, chunk)
            db.session.commit()
            chunk = []
    stored += poller.store(org_id, None, chunk)
    db.session.commit()
    processed = pipeline.process_pending(org_id)
    quarantined = db.session.scalar(
        select(func.count()).select_from(InboundEmail).where(
            InboundEmail.status == InboundStatus.QUARANTINED, InboundEmail.mailbox_id.is_(None)))
    return {"read": total, "stored": stored, "duplicates": total - stored,
            "processed": processed, "quarantined (all imports)": quarantined}
