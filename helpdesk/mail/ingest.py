"""The fast path of the pipeline: a whole batch of ordinary mail (people and robots writing to
us) looked up and written with a few statements per batch instead of many per mail.

Same steps and rules as the one-mail path in helpdesk.mail.pipeline (which still handles
loops, bounces and anything unusual, and takes over a batch that fails here): customers are
upserted together, threading facts prefetched (`BatchLookups`, where tickets opened earlier in
the batch count too), tickets and messages written by helpdesk.tickets.bulk, acknowledgements
queued as one Outbox insert and one delivery job.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import lazyload

from helpdesk.core.emails import clean_sender
from helpdesk.core.jobs import enqueue_after_commit
from helpdesk.core.models import utcnow
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.mail import content, outbound, threads, tokens
from helpdesk.mail.models import InboundEmail, InboundStatus, Outbox, OutboxKind
from helpdesk.mail.parsing import ParsedMail
from helpdesk.tickets import bulk
from helpdesk.tickets.bulk import MessageDraft, TicketDraft
from helpdesk.tickets.models import Message, Status, Ticket


@dataclass
class Item:
    inbound: InboundEmail
    mail: ParsedMail
    automatic: bool
    reason: str
    address: str = ""  # the sender, normalized
    customer: Customer | None = None
    outcome: str = ""
    message: MessageDraft | None = None
    duplicate: tuple | None = None  # (ticket or draft, message row id or draft)
    closed_ticket: Ticket | None = None  # automatic mail to a closed ticket: kept, not added
    deferred: bool = False


class BatchLookups(threads.Lookups):
    """Threading facts for a whole batch, read up front; tickets drafted in the batch join in."""

    def __init__(self, items: list[Item], org_id: int):
        super().__init__()
        self.org_id = org_id
        ids: set[str] = set()
        ticket_ids, numbers = set(), set()
        for item in items:
            ids.update(threads.wanted_ids(item.mail))
            if item.mail.has_message_id:
                ids.add(item.mail.message_id)
            token = tokens.ticket_id_from(item.mail.recipients, org_id)
            if token is not None:
                ticket_ids.add(token)
            numbers.update(int(n) for n in threads.SUBJECT_TOKEN.findall(item.mail.subject or ""))
        self.found: dict[str, tuple] = threads.known_message_ids(list(ids))
        ticket_ids.update(ticket_id for ticket_id, _ in self.found.values())
        customers = {item.customer.id for item in items if item.customer is not None}
        recent_since = utcnow() - threads.SAME_SUBJECT_WINDOW
        conditions = [Ticket.id.in_(ticket_ids), Ticket.number.in_(numbers)] if (
            ticket_ids or numbers) else []
        if customers:
            conditions.append(Ticket.customer_id.in_(customers)
                              & Ticket.status.in_(threads.SUBJECT_STATUSES)
                              & (Ticket.last_activity_at >= recent_since))
        self.tickets: dict[int, Ticket] = {}
        if conditions:
            # Threading reads plain columns: the joined customer/assignee/team loads would
            # cost three joins on every candidate (they still load lazily if a rule asks).
            self.tickets = {t.id: t for t in db.session.scalars(
                select(Ticket).where(or_(*conditions)).options(lazyload("*")))}
        self.numbers = {t.number: t for t in self.tickets.values()}
        self.recent: dict[int, list] = defaultdict(list)
        for ticket in sorted(self.tickets.values(), key=lambda t: t.last_activity_at,
                             reverse=True):
            if (ticket.status in threads.SUBJECT_STATUSES
                    and ticket.last_activity_at >= recent_since):
                self.recent[ticket.customer_id].append(ticket)
        others = {i.inbound.id for i in items}
        self.pending_elsewhere = set(db.session.scalars(select(InboundEmail.message_id).where(
            InboundEmail.message_id.in_(ids), InboundEmail.status == InboundStatus.RECEIVED,
            InboundEmail.id.not_in(others)))) if ids else set()
        self.waiting: set[str] = set()  # Message-IDs of batch mails not resolved yet
        self.may_wait: dict[int, bool] = {}  # inbound id -> may it wait for another worker
        self.drafted: dict[str, tuple] = {}  # Message-ID -> (draft or ticket, draft message)

    # --- Lookups -------------------------------------------------------------------------
    def ticket(self, ticket_id):
        if not isinstance(ticket_id, int):
            return ticket_id  # already a draft
        if ticket_id not in self.tickets:
            self.tickets[ticket_id] = db.session.get(Ticket, ticket_id)
        return self.tickets[ticket_id]

    def known(self, ids):
        result = {}
        for message_id in ids:
            if message_id in self.drafted:
                target, draft_message = self.drafted[message_id]
                result[message_id] = (target, draft_message)
            elif message_id in self.found:
                result[message_id] = self.found[message_id]
        return result

    def by_number(self, number):
        if number not in self.numbers:
            self.numbers[number] = super().by_number(number)
        return self.numbers[number]

    def participant(self, ticket, customer_id):
        if isinstance(ticket, TicketDraft) or ticket.customer_id == customer_id:
            return ticket.customer_id == customer_id
        return super().participant(ticket, customer_id)

    def recent_of_customer(self, customer_id):
        return self.recent.get(customer_id, [])

    def pending(self, ids, inbound_id):
        """Waits for a batch mail not resolved yet, or (a few times) for one in another
        worker's batch."""
        if any(i in self.waiting for i in ids):
            return True
        return self.may_wait.get(inbound_id, False) and any(
            i in self.pending_elsewhere for i in ids)

    # --- the batch's own tickets -----------------------------------------------------------
    def register(self, item: Item, target, message: MessageDraft) -> None:
        self.waiting.discard(item.mail.message_id)
        if item.mail.has_message_id:
            self.drafted[item.mail.message_id] = (target, message)
        if isinstance(target, TicketDraft):
            self.recent[target.customer_id].insert(0, target)


def customers_for(org_id: int, names: dict[str, str]) -> dict[str, Customer]:
    """The customers with these (clean) addresses, created where new: one upsert, one read."""
    if not names:
        return {}
    found = {c.email: c for c in db.session.scalars(
        select(Customer).where(Customer.email.in_(list(names))))}
    new = sorted(set(names) - set(found))  # sorted: concurrent batches lock in one order
    if new:
        # Only new addresses are inserted: an existing customer costs no row lock, so two
        # workers' batches from the same senders do not wait on each other.
        db.session.execute(
            pg_insert(Customer.__table__)
            .on_conflict_do_nothing(index_elements=["org_id", "email"]),
            [{"org_id": org_id, "email": email, "name": names[email][:200]} for email in new])
        found.update({c.email: c for c in db.session.scalars(
            select(Customer).where(Customer.email.in_(new)))})
    return found


def _customers(items: list[Item]) -> None:
    """Everyone who wrote, upserted at once; an invalid address leaves the item to the slow
    path, which quarantines it with the reason."""
    names: dict[str, str] = {}
    for item in items:
        try:
            item.address = clean_sender(item.mail.sender)
        except ValueError:
            continue
        names.setdefault(item.address, (item.mail.sender_name or "").strip())
    found = customers_for(items[0].inbound.org_id, names) if names else {}
    for item in items:
        item.customer = found.get(item.address)


def _resolve(item: Item, lookups: BatchLookups, languages: tuple[str, ...],
             drafts: list[TicketDraft], messages: list[MessageDraft]) -> None:
    """Thread one mail and draft what it becomes. Raises threads.Defer."""
    match = threads.find_ticket(item.mail, item.customer.id, item.inbound.org_id, lookups,
                                inbound_id=item.inbound.id, may_defer=True)
    if match.duplicate_of is not None:
        item.outcome, item.duplicate = "duplicate", match.duplicate_of
        lookups.waiting.discard(item.mail.message_id)
        return
    target, seen = match.ticket, set()
    while target is not None and getattr(target, "merged_into_id", None) and id(target) not in seen:
        seen.add(id(target))
        target = lookups.ticket(target.merged_into_id)
    if target is not None and target.status is Status.CLOSED and item.automatic:
        # An out-of-office to a closed ticket opens nothing (the raw mail is kept).
        item.outcome, item.closed_ticket = "automatic_to_closed", target
        lookups.waiting.discard(item.mail.message_id)
        return
    prepared = content.prepare(item.mail, languages)
    if target is None or target.status is Status.CLOSED:
        target = TicketDraft(
            customer_id=item.customer.id,
            subject=(target.subject if target is not None
                     else threads.ticket_subject(item.mail.subject)),
            tags=["auto"] if item.automatic and target is None else [],
            mailbox_id=getattr(target, "mailbox_id", None) or item.inbound.mailbox_id,
            follow_up_of=target)
        item.outcome = "follow_up" if target.follow_up_of is not None else "new_ticket"
        drafts.append(target)
    else:
        item.outcome = "reply"
    item.message = MessageDraft(
        ticket=target, customer_id=item.customer.id, body_text=prepared.text,
        body_html=prepared.html, body_visible=prepared.visible, headers=prepared.headers,
        attachments=prepared.files, reopen=not item.automatic)
    messages.append(item.message)
    lookups.register(item, target, item.message)


def _acknowledge(items: list[Item], org, mailboxes) -> None:
    """One Outbox insert for the batch's acknowledgements (new tickets from people, polled
    mail only), within the per-address limit for automatic mail."""
    candidates = [i for i in items if i.outcome in ("new_ticket", "follow_up")
                  and not i.automatic and i.inbound.mailbox_id is not None]
    if not candidates or not outbound.acknowledges(org):
        return
    addresses = {i.customer.email for i in candidates}
    sent = outbound.recent_automatic(addresses)
    rows = []
    for item in candidates:
        customer, ticket = item.customer, item.message.ticket
        if outbound.automatic_refusal(customer, sent.get(customer.email, 0)):
            continue
        sent[customer.email] = sent.get(customer.email, 0) + 1
        mailbox = mailboxes.get(item.inbound.mailbox_id)
        message_id = item.mail.message_id if item.mail.has_message_id else None
        mail = outbound.acknowledgement(
            org, mailbox, customer, ticket_id=ticket.id, number=ticket.number,
            subject=ticket.subject, in_reply_to=message_id,
            references=(item.mail.references + [message_id])[-outbound.MAX_REFERENCES:]
            if message_id else [])
        rows.append(outbound.outbox_row(
            mail, kind=OutboxKind.ACK, org_id=org.id, recipient=customer.email,
            ticket_id=ticket.id, message_row_id=None, mailbox_id=item.inbound.mailbox_id,
            automatic=True))
    if rows:
        ids = db.session.execute(insert(Outbox.__table__).returning(Outbox.__table__.c.id),
                                 rows).scalars().all()
        from helpdesk.mail.delivery import deliver_outbox

        enqueue_after_commit(deliver_outbox, org.id, sorted(ids), queue="mail")


@dataclass
class Result:
    done: list[Item] = field(default_factory=list)
    deferred: list[Item] = field(default_factory=list)


class TargetsChanged(Exception):  # noqa: N818
    """A ticket this batch writes to was closed or merged meanwhile (an agent was quicker):
    the batch goes the one-mail way, which decides again under the lock."""


def _lock_targets(messages: list[MessageDraft]) -> None:
    """Lock the existing tickets the batch writes to (in id order: no deadlocks between
    batches) and make sure what the decisions were based on still holds."""
    tickets = {m.ticket.id: m.ticket for m in messages if isinstance(m.ticket, Ticket)}
    if not tickets:
        return
    now = db.session.execute(select(Ticket.id, Ticket.status, Ticket.merged_into_id)
                             .where(Ticket.id.in_(sorted(tickets))).order_by(Ticket.id)
                             .with_for_update(of=Ticket))
    for ticket_id, status, merged_into_id in now:
        ticket = tickets[ticket_id]
        if status is not ticket.status or merged_into_id != ticket.merged_into_id:
            raise TargetsChanged(f"ticket #{ticket.number} changed while mail came in")


def _link_inline_images(messages: list[MessageDraft], org) -> None:
    """cid: placeholders -> the stored attachments' URLs (one statement for the batch)."""
    changes = []
    for message in messages:
        html = content.link_inline(
            message.body_html, [(row["id"], row["content_id"]) for row in message.stored],
            org.slug)
        if html != message.body_html:
            message.body_html = html
            changes.append({"id": message.id, "body_html": html})
    if changes:
        db.session.execute(update(Message), changes)


def run(items: list[Item], ctx, may_defer, acknowledge) -> Result:
    """Thread, draft and write a batch of ordinary mail; raises on any failure (the caller
    then rolls the batch back to its savepoint and takes the one-mail path). Items whose
    sender is no valid address are left out (customer None) for the one-mail path."""
    result = Result()
    _customers(items)
    items = [i for i in items if i.customer is not None]
    for item in items:
        if item.customer.is_blocked:
            item.outcome = "blocked_sender"
    open_items = [i for i in items if not i.outcome]
    threads.lock_message_ids(ctx.org.id, [i.mail.message_id for i in open_items
                                          if i.mail.has_message_id])
    lookups = BatchLookups(open_items, ctx.org.id)
    lookups.waiting = {i.mail.message_id for i in open_items}
    lookups.may_wait = {i.inbound.id: may_defer(i.inbound) for i in open_items}
    drafts: list[TicketDraft] = []
    messages: list[MessageDraft] = []
    pending = open_items
    for round_number in range(2):  # a reply that came before its original goes again
        if round_number == 1:
            lookups.waiting = set()  # second round: nobody waits on batch mates (cycles)
        later = []
        for item in pending:
            try:
                _resolve(item, lookups, ctx.languages, drafts, messages)
            except threads.Defer:
                later.append(item)
        pending = later
        if not pending:
            break
    for item in pending:
        item.deferred = True
    _lock_targets(messages)
    bulk.write(ctx.org.id, drafts, messages)
    _link_inline_images(messages, ctx.org)
    _acknowledge([i for i in items if acknowledge(i.mail, i.inbound, ctx)], ctx.org,
                 ctx.mailboxes)
    for item in items:
        if item.deferred:
            result.deferred.append(item)
            continue
        ticket_id, row_id = None, None
        if item.message is not None:
            ticket_id, row_id = item.message.ticket.id, item.message.id
        elif item.closed_ticket is not None:
            ticket_id = item.closed_ticket.id
        elif item.duplicate is not None:
            target, row = item.duplicate
            ticket_id = getattr(target, "id", None)
            row_id = row.id if isinstance(row, MessageDraft) else row
        item.inbound.mark_processed(item.outcome, ticket_id=ticket_id, message_row_id=row_id,
                                    note=item.reason)
        result.done.append(item)
    return result
