"""The inbound chain, one small step each (docs/ARCHITECTURE.md, "The mail pipeline"):

stored raw (InboundEmail) -> parse -> classify -> identify the customer -> thread -> visible
text -> sanitize -> save -> acknowledgement and notifications (jobs after commit).

`process_pending` claims a batch of stored mails (FOR UPDATE SKIP LOCKED, so workers share the
work), runs each in a savepoint and commits the batch once: a mail becomes a message in the
same transaction that marks it processed, so a worker killed at any point leaves the mail
`received` and the next run makes it exactly one message. A mail that fails a step is
quarantined with the reason and never stops the others.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from psycopg import errors as pg_errors
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError

from helpdesk.core.emails import clean_sender
from helpdesk.core.models import utcnow
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.mail import content, crashes, ingest, outbound, threads, tokens
from helpdesk.mail.bounces import handle_bounce
from helpdesk.mail.classify import Kind, classify
from helpdesk.mail.models import InboundEmail, InboundStatus, Mailbox
from helpdesk.mail.parsing import ParsedMail, parse
from helpdesk.mail.visible import DEFAULT_LANGUAGES
from helpdesk.orgs.models import Organization
from helpdesk.tickets import services
from helpdesk.tickets.attachments import files_written, forget_files_since
from helpdesk.tickets.models import Channel, Message, Status, Ticket

log = logging.getLogger(__name__)
BATCH = 200  # mails per transaction: the bulk path writes each batch in ~20 statements
MAX_RETRIES = 5  # batch reruns after deadlocks or lost connections, then the job fails
MAX_IDLE_ROUNDS = 10  # batches that only waited on other workers' mail before giving up
DEFER_WINDOW = timedelta(minutes=2)
BATCH_BYTES = 64 * 1024 * 1024  # a batch holds at most this much raw mail (but always one)


class Quarantine(Exception):  # noqa: N818 - a decision, not a crash
    """This mail cannot be processed as it is; the message says why."""


@dataclass
class Context:
    """What a batch looks up once."""

    org: Organization
    our_addresses: set[str]
    mailboxes: dict[int, Mailbox] = field(default_factory=dict)
    languages: tuple[str, ...] = DEFAULT_LANGUAGES  # for finding quoted text
    loop_value: str = ""  # our X-Helpdesk-Loop header's value
    not_waiting_on: frozenset[int] = frozenset()  # set for the one-mail path's second round


def _context(org_id: int) -> Context:
    org = db.session.get(Organization, org_id)
    mailboxes = {m.id: m for m in db.session.scalars(select(Mailbox))}
    languages = tuple(org.settings.get("reply_languages") or DEFAULT_LANGUAGES)
    return Context(org, {m.address.lower() for m in mailboxes.values()}, mailboxes, languages,
                   tokens.loop_value(org_id))


# --- steps -----------------------------------------------------------------------------------

def identify_customer(mail: ParsedMail, org_id: int) -> Customer:
    if not mail.sender:
        raise Quarantine("no sender address (From:) in the mail")
    try:
        address = clean_sender(mail.sender)
    except ValueError as error:
        raise Quarantine(f"sender address {mail.sender!r} is not valid: {error}") from error
    return ingest.customers_for(org_id, {address: mail.sender_name or ""})[address]


def save(mail: ParsedMail, inbound: InboundEmail, customer: Customer, match: threads.Match,
         automatic: bool, ctx: Context) -> tuple[Message | None, str, int | None]:
    """(message, outcome, ticket id) through the ticket services, one mail at a time."""
    prepared = content.prepare(mail, ctx.languages)
    files = [(name, io.BytesIO(data), kind, cid) for name, data, kind, cid in prepared.files]
    if match.ticket is not None:
        target = services.resolve_merged(match.ticket)
        db.session.refresh(target, with_for_update={"of": Ticket})  # an agent may be closing it
        if target.status is Status.CLOSED and automatic:
            return None, "automatic_to_closed", target.id  # an out-of-office opens nothing
        message = services.add_customer_message(
            target, customer, body_text=prepared.text, body_html=prepared.html,
            attachments=files, headers=prepared.headers, reopen=not automatic)
        outcome = "follow_up" if message.ticket_id != target.id else "reply"
    else:
        ticket = services.create_ticket(
            None, subject=threads.ticket_subject(mail.subject), customer=customer,
            channel=Channel.EMAIL, body_text=prepared.text, body_html=prepared.html,
            attachments=files, headers=prepared.headers, tags=["auto"] if automatic else ())
        message = db.session.scalar(select(Message).where(Message.ticket_id == ticket.id))
        outcome = "new_ticket"
    message.body_visible = prepared.visible
    if content.has_inline_images(message.body_html):  # (else no need to load attachments)
        message.body_html = content.link_inline(
            message.body_html, [(a.id, a.content_id) for a in message.attachments], ctx.org.slug)
    ticket = db.session.get(Ticket, message.ticket_id)
    if ticket.mailbox_id is None:
        ticket.mailbox_id = inbound.mailbox_id
    if outcome != "reply" and not automatic and acknowledge(mail, inbound, ctx):
        outbound.queue_acknowledgement(ticket)
    return message, outcome, ticket.id


def acknowledge(mail: ParsedMail, inbound: InboundEmail, ctx: Context) -> bool:
    """Polled mail from now gets an acknowledgement; imported mail (no mailbox) and mail from
    before the mailbox was connected is history: nobody is waiting for one."""
    mailbox = ctx.mailboxes.get(inbound.mailbox_id)
    return mailbox is not None and not content.is_historical(mail, mailbox.created_at)


def describe(inbound: InboundEmail) -> ParsedMail:
    """Parse (never raises) and note who wrote about what: kept even if a later step fails,
    so a quarantined mail can still be recognised in the mail log."""
    mail = parse(inbound.raw)
    inbound.sender = mail.sender[:254]
    inbound.subject = mail.subject[:500]
    return mail


def process_one(inbound: InboundEmail, mail: ParsedMail, ctx: Context, may_defer: bool) -> None:
    """Run the chain for one stored, parsed mail. Raises Quarantine, threads.Defer, or a bug."""
    kind, reason = classify(mail, ctx.our_addresses, ctx.loop_value)
    inbound.classification = kind.value
    if kind is Kind.LOOP:
        inbound.mark_processed("loop", note=reason)
        return
    if kind is Kind.BOUNCE:
        ticket, message = handle_bounce(mail, ctx.org)
        inbound.mark_processed("bounce" if ticket else "bounce_unmatched",
                               ticket_id=ticket.id if ticket else None,
                               message_row_id=message.id if message else None)
        return
    customer = identify_customer(mail, ctx.org.id)
    if customer.is_blocked:
        inbound.mark_processed("blocked_sender")
        return
    if mail.has_message_id:
        threads.lock_message_ids(ctx.org.id, [mail.message_id])
    match = threads.find_ticket(mail, customer.id, ctx.org.id,
                                threads.Lookups(ctx.not_waiting_on),
                                inbound_id=inbound.id, may_defer=may_defer)
    if match.duplicate_of is not None:
        ticket, row_id = match.duplicate_of
        inbound.mark_processed("duplicate", ticket_id=ticket.id if ticket else None,
                               message_row_id=row_id)
        return
    message, outcome, ticket_id = save(mail, inbound, customer, match, kind is Kind.AUTOMATIC,
                                       ctx)
    inbound.mark_processed(outcome, ticket_id=ticket_id,
                           message_row_id=message.id if message else None, note=reason)


def _retryable(error: BaseException) -> bool:
    """Database trouble that says nothing about the mail (a deadlock, a serialization failure,
    a lost connection): the whole batch rolls back and runs again, quarantining nothing.
    Everything else (a value too long, a statement timeout ...) is about some mail."""
    if not isinstance(error, DBAPIError):
        return False
    if isinstance(error.orig, pg_errors.TransactionRollback):
        return True
    return error.connection_invalidated or (
        isinstance(error, OperationalError)
        and (getattr(error.orig, "sqlstate", None) or "08").startswith(("08", "57P"))
    )


@dataclass
class Batch:
    handled: list[int] = field(default_factory=list)  # inbound ids run through (incl. deferred)
    deferred: int = 0


def _claim(org_id: int, mailbox_id: int | None, ids: list[int] | None,
           limit: int) -> list[InboundEmail]:
    """Lock up to `limit` stored mails (oldest first; others' locked rows skipped), at most
    BATCH_BYTES of them together (but always one)."""
    query = select(InboundEmail.id, InboundEmail.size).where(
        InboundEmail.status == InboundStatus.RECEIVED)
    if mailbox_id is not None:
        query = query.where(InboundEmail.mailbox_id == mailbox_id)
    if ids is not None:
        query = query.where(InboundEmail.id.in_(ids))
    sizes = db.session.execute(query.order_by(InboundEmail.id).limit(limit)
                               .with_for_update(skip_locked=True)).all()
    chosen, total = [], 0
    for inbound_id, size in sizes:
        if chosen and total + size > BATCH_BYTES:
            break
        chosen.append(inbound_id)
        total += size
    if not chosen:
        return []
    return list(db.session.scalars(select(InboundEmail).where(InboundEmail.id.in_(chosen))
                                   .order_by(InboundEmail.id)))


def process_batch(org_id: int, *, mailbox_id: int | None = None, ids: list[int] | None = None,
                  limit: int = BATCH) -> Batch:
    """Claim a batch of stored mails of the org, process them, flush; the caller commits and
    then calls `crashes.forget(batch.handled)`.

    Mail that was in a batch that never finished twice (the worker died: out of memory, a
    crash, a kill) is run alone, and set aside in quarantine after GIVE_UP_AFTER such runs, so
    one poisonous mail cannot stop the mailbox."""
    rows = _claim(org_id, mailbox_id, ids, limit)
    if not rows:
        return Batch()
    previous = crashes.counts([r.id for r in rows])
    suspects = [r for r in rows if previous[r.id] >= crashes.SUSPECT_AFTER]
    if suspects:
        rows = suspects[:1]
        if previous[rows[0].id] >= crashes.GIVE_UP_AFTER:
            describe(rows[0])
            _quarantine(rows[0], Quarantine(
                f"processing this mail stopped the worker {previous[rows[0].id]} times (out "
                f"of memory? a crash?); it was set aside"))
            db.session.flush()
            return Batch(handled=[rows[0].id])
    crashes.count([r.id for r in rows])
    ctx = _context(org_id)
    for inbound in rows:
        inbound.attempts += 1
    pending = _fast_path(rows, ctx) if not suspects else rows
    # The one-mail path for the rest. Two rounds: a reply that came before its original in
    # the same batch goes again after it.
    for round_number in range(2):
        if round_number:  # mail of this batch waits no more on each other (cycles)
            ctx.not_waiting_on = frozenset(r.id for r in rows)
        deferred = []
        for inbound in pending:
            if not _run_step(inbound, ctx):
                deferred.append(inbound)
        pending = deferred
        if not pending:
            break
    from storefront.ticket_links import link_orders_of_new_mail_tickets  # "order #1042"

    link_orders_of_new_mail_tickets([r for r in rows if r.status is InboundStatus.PROCESSED])
    db.session.flush()
    waiting = sum(1 for r in rows if r.status is InboundStatus.RECEIVED)
    return Batch(handled=[r.id for r in rows], deferred=waiting)


def _fast_path(rows: list[InboundEmail], ctx: Context) -> list[InboundEmail]:
    """Ordinary mail goes through helpdesk.mail.ingest in bulk; returns what is left for the
    one-mail path (loops, bounces, bad senders, deferred mail, or all of it if the bulk write
    failed: the one-mail path then finds and quarantines the culprit)."""
    items, rest = [], []
    for inbound in rows:
        try:
            mail = describe(inbound)
        except Exception:  # noqa: BLE001 - parse promises not to raise; the slow path will say
            rest.append(inbound)
            continue
        kind, reason = classify(mail, ctx.our_addresses, ctx.loop_value)
        inbound.classification = kind.value
        if kind in (Kind.PERSON, Kind.AUTOMATIC) and mail.sender:
            items.append(ingest.Item(inbound, mail, kind is Kind.AUTOMATIC, reason))
        else:
            rest.append(inbound)
    if not items:
        return rest
    files = files_written()
    savepoint = db.session.begin_nested()
    try:
        result = ingest.run(items, ctx, may_defer, acknowledge)
        savepoint.commit()
    except Exception as error:  # noqa: BLE001 - retried mail by mail below
        savepoint.rollback()
        forget_files_since(files)
        if _retryable(error):
            raise
        log.warning("bulk ingest failed (%s: %s); processing mail by mail", type(error).__name__,
                    error)
        return rows
    handled = {i.inbound.id for i in result.done} | {i.inbound.id for i in result.deferred}
    return [inbound for inbound in rows if inbound.id not in handled]


def _run_step(inbound: InboundEmail, ctx: Context) -> bool:
    """Process one mail in a savepoint; False when it must wait for another (deferred)."""
    try:
        mail = describe(inbound)
    except Exception as error:  # noqa: BLE001 - parse promises not to raise; if it ever does
        log.exception("inbound mail %s could not be parsed", inbound.id)
        _quarantine(inbound, error)
        return True
    files = files_written()
    savepoint = db.session.begin_nested()
    try:
        process_one(inbound, mail, ctx, may_defer=may_defer(inbound))
        savepoint.commit()
    except threads.Defer:
        savepoint.rollback()
        forget_files_since(files)
        return False
    except Exception as error:  # noqa: BLE001 - any failure quarantines this mail only
        savepoint.rollback()
        forget_files_since(files)
        if _retryable(error):
            raise
        if not isinstance(error, Quarantine):
            log.exception("inbound mail %s failed", inbound.id)
        _quarantine(inbound, error)
    return True


def _quarantine(inbound: InboundEmail, error: BaseException) -> None:
    if isinstance(error, Quarantine):
        reason = str(error)
    elif isinstance(error, DBAPIError):  # the database's own words, not the whole statement
        first_line = (str(error.orig) or type(error.orig).__name__).splitlines()[0]
        reason = f"the database refused it: {first_line}"
    else:
        reason = f"{type(error).__name__}: {error}"
    inbound.status = InboundStatus.QUARANTINED
    inbound.error = reason[:2000]
    inbound.processed_at = utcnow()


def process_pending(org_id: int, *, mailbox_id: int | None = None,
                    max_batches: int | None = None,
                    on_batch: Callable[[int], None] | None = None) -> int:
    """Process stored mail batch by batch, committing each; returns how many were handled."""
    total, batches, retries, idle = 0, 0, 0, 0
    while max_batches is None or batches < max_batches:
        try:
            batch = process_batch(org_id, mailbox_id=mailbox_id)
            db.session.commit()
            crashes.forget()
        except Exception as error:
            db.session.rollback()
            retries += 1
            if not _retryable(error) or retries > MAX_RETRIES:
                raise  # counted claims stay: a mail that keeps failing ends up set aside
            crashes.forget()
            log.warning("inbound batch rolled back (%s), retry %s", error, retries)
            time.sleep(0.2 * retries)
            continue
        if not batch.handled:
            break
        done = len(batch.handled) - batch.deferred
        if not done:
            # Everything left waits for mail another worker is processing right now: give
            # it a moment, then leave the rest to the next poll.
            idle += 1
            if idle > MAX_IDLE_ROUNDS:
                break
            time.sleep(0.2)
            continue
        idle = 0
        total += done
        batches += 1
        if on_batch is not None:
            on_batch(total)
    return total


def may_defer(inbound: InboundEmail) -> bool:
    """A reply may wait DEFER_WINDOW for its original; then it is threaded as best we can."""
    return inbound.received_at >= utcnow() - DEFER_WINDOW


def reprocess(inbound: InboundEmail) -> None:
    """An admin's "reprocess" on a quarantined mail: back to the queue, processed right away."""
    inbound.status = InboundStatus.RECEIVED
    inbound.error = ""
    inbound.attempts = 0
    db.session.flush()
    crashes.reset([inbound.id])
    process_batch(inbound.org_id, ids=[inbound.id], limit=1)
    crashes.forget()  # the request commits it: not a claim that could be left unfinished
