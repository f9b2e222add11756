"""Merge several tickets into one; split one message off into a new ticket."""

from __future__ import annotations

from sqlalchemy import select, update

from helpdesk.core.exceptions import ValidationFailed
from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.tickets import events, services
from helpdesk.tickets.models import Message, MessageKind, Status, Ticket


def merge_tickets(actor_id: int | None, target: Ticket, sources: list[Ticket]) -> Ticket:
    """Move the sources' messages into `target`, close the sources with a link to it.

    Later mail to a source lands in the target (its Message-IDs moved with the messages, and
    resolve_merged follows the link). Raises ValidationFailed for an invalid set.
    """
    sources = [s for s in sources if s.id != target.id]
    if not sources:
        raise ValidationFailed("Nothing to merge.", {"tickets": "pick at least one other ticket"})
    ids = sorted({target.id, *(s.id for s in sources)})
    # Lock every ticket involved (in id order, so two merges cannot deadlock), then judge them
    # as they are now: a merge that ran meanwhile may have merged one of them already.
    db.session.execute(select(Ticket.id).where(Ticket.id.in_(ids)).with_for_update())
    for ticket in (target, *sources):
        db.session.refresh(ticket)
    if target.merged_into_id is not None:
        raise ValidationFailed("Target merged.", {"target": f"#{target.number} was itself "
                                                            "merged; merge into its target"})
    if target.status is Status.CLOSED:
        raise ValidationFailed("Target closed.", {"target": f"#{target.number} is closed; "
                                                            "merge into an open ticket"})
    for source in sources:
        if source.merged_into_id is not None:
            raise ValidationFailed("Already merged.", {"tickets": f"#{source.number} is already "
                                                                  "merged"})
    for source in sources:
        db.session.execute(update(Message).where(Message.ticket_id == source.id)
                           .values(ticket_id=target.id))
        # The target's tags first; the 20-tag limit holds after the merge too.
        target.tags = list(dict.fromkeys([*target.tags, *source.tags]))[:services.MAX_TAGS]
        source.merged_into_id = target.id
        old = source.status
        source.status = Status.CLOSED
        source.closed_at = utcnow()
        events.merged(source, actor_id, target.number)
        if old is not Status.CLOSED:
            events.status_changed(source, actor_id, old.value, Status.CLOSED.value,
                                  f"merged into #{target.number}")
    events.merged_in(target, actor_id, [s.number for s in sources])
    target.last_activity_at = utcnow()
    if target.status is Status.SOLVED:
        services.workflow.change_status(actor_id, target, Status.OPEN, reason="merge")
    from helpdesk.sla import clock

    for ticket in (*sources, target):  # merged tickets stop; the target's waits change
        clock.refresh(ticket)
    return target


def split_ticket(actor_id: int | None, message: Message) -> Ticket:
    """A new ticket made of one customer message of an existing ticket."""
    source = db.session.get(Ticket, message.ticket_id)
    if services.is_frozen(source):
        raise ValidationFailed("Ticket closed.", {"message": f"#{source.number} is closed or "
                                                             "merged; its messages stay"})
    if message.kind is not MessageKind.CUSTOMER:
        raise ValidationFailed("Not a customer message.",
                               {"message": "only customer messages can be split off"})
    count = db.session.scalar(select(Message.id).where(Message.ticket_id == source.id,
                                                      Message.id != message.id).limit(1))
    if count is None:
        raise ValidationFailed("Only message.", {"message": "the ticket has no other message"})
    customer_id = message.author_customer_id or source.customer_id
    new = Ticket(org_id=source.org_id, number=services.next_number(source.org_id),
                 subject=source.subject, channel=source.channel, priority=source.priority,
                 customer_id=customer_id, tags=list(source.tags), custom_fields={})
    db.session.add(new)
    db.session.flush()
    message.ticket_id = new.id
    events.created(new, actor_id)
    events.split_from(new, actor_id, source.number)
    events.split(source, actor_id, new.number, message.id)
    from helpdesk.sla import clock

    for ticket in (new, source):
        clock.refresh(ticket)
    return new
