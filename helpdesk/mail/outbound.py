"""Outbound ticket mail through the Outbox: replies, acknowledgements, staff notifications.

A row is written in the caller's transaction with the complete message (headers and
attachments); a `mail` job sends it after commit (helpdesk.mail.delivery). Threading headers:
our own Message-ID, In-Reply-To/References of the thread, a Reply-To carrying the ticket's token,
`[#number]` in the subject, and the loop header we recognise when our mail comes back.
"""

from __future__ import annotations

import quopri
from datetime import timedelta
from email.header import Header, decode_header, make_header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid, parseaddr

from flask import current_app
from sqlalchemy import func, select

from helpdesk.core.jobs import enqueue_after_commit
from helpdesk.core.models import utcnow
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.mail import tokens
from helpdesk.mail.classify import LOOP_HEADER
from helpdesk.mail.models import Mailbox, Outbox, OutboxKind
from helpdesk.mail.threads import REPLY_PREFIX
from helpdesk.orgs.models import Membership, Organization
from helpdesk.tickets import canned
from helpdesk.tickets.attachments import attachment_path
from helpdesk.tickets.models import Message as MessageRow
from helpdesk.tickets.models import MessageKind, Ticket

WIRE_POLICY = compat32.clone(linesep="\r\n")  # CRLF line ends, as SMTP wants them
AUTOMATIC_PER_HOUR = 3  # automatic mail to any one address (a loop with a robot stays small)
MAX_REFERENCES = 20
DEFAULT_ACK = (
    "Hello {{ customer.name }},\n\n"
    "thank you for your message. We have opened ticket #{{ ticket.number }} "
    "“{{ ticket.subject }}” and will answer as soon as we can.\n"
    "To add anything, reply to this mail.\n\n"
    "{{ org.name }}"
)


def mailbox_for(ticket: Ticket | None) -> Mailbox | None:
    """The ticket's own mailbox, else the org's first active one (None: the global sender)."""
    if ticket is not None and ticket.mailbox_id is not None:
        mailbox = db.session.get(Mailbox, ticket.mailbox_id)
        if mailbox is not None:
            return mailbox
    return db.session.scalar(select(Mailbox).where(Mailbox.is_active.is_(True))
                             .order_by(Mailbox.id).limit(1))


def _sender(org: Organization, mailbox: Mailbox | None) -> tuple[str, str]:
    """(From header, bare address)."""
    if mailbox is not None:
        return address(mailbox.name or org.name, mailbox.address), mailbox.address
    name, sender_address = parseaddr(current_app.config["MAIL_FROM"])
    return address(org.name or name, sender_address), sender_address


def _thread_headers(ticket: Ticket) -> tuple[str | None, list[str]]:
    """In-Reply-To: the customer's latest mail; References: its chain plus itself."""
    last = db.session.scalar(
        select(MessageRow).where(MessageRow.ticket_id == ticket.id,
                                 MessageRow.message_id.is_not(None),
                                 MessageRow.kind == MessageKind.CUSTOMER)
        .order_by(MessageRow.created_at.desc(), MessageRow.id.desc()).limit(1))
    if last is None:
        return None, []
    chain = (last.references or "").split() + [last.message_id]
    return last.message_id, list(dict.fromkeys(chain))[-MAX_REFERENCES:]


def _text_part(text: str, subtype: str = "plain") -> MIMEText:
    part = MIMEText("", subtype, "utf-8")
    part.replace_header("Content-Transfer-Encoding", "quoted-printable")
    part.set_payload(quopri.encodestring(text.encode("utf-8")).decode("ascii"))
    return part


def one_line(value: str) -> str:
    """Header text on one line: a CR or LF from a customer's name or subject (or any control
    character) must never start a header or the body of our mail."""
    return " ".join("".join(c if c.isprintable() else " " for c in value or "").split())


def _header(value: str) -> str:
    """Non-ASCII header text as RFC 2047 encoded words (addresses come encoded already)."""
    value = one_line(value)
    return value if value.isascii() else Header(value, "utf-8").encode()


def address(name: str, email: str) -> str:
    return formataddr((one_line(name), email))


def reply_subject(subject: str, number: int) -> str:
    """"Re: <subject> [#n]", without stacking "Re: Re:" or a second "[#n]"."""
    subject = one_line(subject)
    if f"[#{number}]" not in subject:
        subject = f"{subject} [#{number}]"
    return subject if REPLY_PREFIX.match(subject) else f"Re: {subject}"


def build(*, sender: str, sender_address: str, to: str, subject: str, text: str,
          html: str | None = None, reply_to: str | None = None, in_reply_to: str | None = None,
          references: list[str] | None = None, automatic: bool = False, loop: str = "",
          attachments: list[tuple[str, str, bytes]] = ()) -> Message:
    """A complete mail. Built with the classic (compat32) email classes: a few times faster
    than EmailMessage's header objects, which matters for a batch of acknowledgements."""
    body = _text_part(text)
    if html:
        body = MIMEMultipart("alternative", _subparts=[body, _text_part(html, "html")])
    if attachments:
        body = MIMEMultipart("mixed", _subparts=[body])
        for filename, content_type, data in attachments:
            maintype, _, subtype = content_type.partition("/")
            part = MIMEApplication(data, subtype or "octet-stream")
            part.replace_header("Content-Type", f"{maintype or 'application'}/"
                                                f"{subtype or 'octet-stream'}")
            part.add_header("Content-Disposition", "attachment",
                            filename=filename if filename.isascii() else ("utf-8", "", filename))
            body.attach(part)
    message = body
    message["From"] = one_line(sender)  # address() output: encoded already
    message["To"] = one_line(to)
    message["Subject"] = _header(subject)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=sender_address.rpartition("@")[2] or "localhost")
    if reply_to:
        message["Reply-To"] = reply_to
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    message[LOOP_HEADER] = loop or "helpdesk"
    if automatic:
        message["Auto-Submitted"] = "auto-replied"
        message["X-Auto-Response-Suppress"] = "All"  # asks Exchange not to answer it
    return message


def _fold(name: str, value: str) -> str:
    """One header, folded at spaces to lines of at most 78 characters where it can be."""
    lines, line = [], f"{name}:"
    for word in value.split():  # also undoes earlier folding (encoded words come folded)
        if len(line) + 1 + len(word) > 78 and line != f"{name}:":
            lines.append(line)
            line = ""
        line = f"{line} {word}"
    lines.append(line)
    return "\r\n".join(lines)


def wire_bytes(message: Message) -> bytes:
    """The mail as sent (CRLF). A single-part mail (acknowledgements, notifications: many per
    batch) is written directly, about five times faster than the generator; its header values
    are ASCII already (encoded words) and its body is quoted-printable."""
    if message.is_multipart():
        return message.as_bytes(policy=WIRE_POLICY)
    head = "\r\n".join(_fold(name, str(value)) for name, value in message.items())
    body = message.get_payload().replace("\r\n", "\n").replace("\n", "\r\n")
    return f"{head}\r\n\r\n{body}".encode("ascii")


def decoded(value) -> str:
    return str(make_header(decode_header(str(value))))


def _queue(message: Message, *, kind: OutboxKind, org_id: int, recipient: str,
           ticket: Ticket | None, message_row: MessageRow | None, mailbox: Mailbox | None,
           automatic: bool) -> Outbox:
    row = Outbox(**outbox_row(message, kind=kind, org_id=org_id,
                              recipient=recipient, ticket_id=ticket.id if ticket else None,
                              message_row_id=message_row.id if message_row else None,
                              mailbox_id=mailbox.id if mailbox else None, automatic=automatic))
    db.session.add(row)
    db.session.flush()
    from helpdesk.mail.delivery import deliver_outbox

    enqueue_after_commit(deliver_outbox, org_id, [row.id], queue="mail")
    return row


def signature_for(user_id: int | None, org: Organization) -> str:
    parts = []
    if user_id is not None:
        own = db.session.scalar(select(Membership.signature).where(Membership.user_id == user_id))
        if own:
            parts.append(own)
    if org.settings.get("signature"):
        parts.append(org.settings["signature"])
    return "\n\n".join(parts)


def queue_reply(ticket: Ticket, message: MessageRow) -> Outbox | None:
    """An agent's reply to the customer; the message takes the mail's Message-ID."""
    customer = db.session.get(Customer, ticket.customer_id)
    if customer is None or customer.is_blocked:
        return None
    org = db.session.get(Organization, ticket.org_id)
    mailbox = mailbox_for(ticket)
    sender, sender_address = _sender(org, mailbox)
    in_reply_to, references = _thread_headers(ticket)
    signature = signature_for(message.author_user_id, org)
    text = message.body_text + (f"\n\n-- \n{signature}" if signature else "")
    files = [(a.filename, a.content_type, attachment_path(a).read_bytes())
             for a in message.attachments]
    mail = build(sender=sender, sender_address=sender_address,
                 to=address(customer.name, customer.email),
                 subject=reply_subject(ticket.subject, ticket.number),
                 text=text, html=message.body_html or None,
                 reply_to=tokens.reply_address(sender_address, ticket.org_id, ticket.id),
                 in_reply_to=in_reply_to, references=references, loop=tokens.loop_value(org.id),
                 attachments=files)
    message.message_id = str(mail["Message-ID"])
    return _queue(mail, kind=OutboxKind.REPLY, org_id=ticket.org_id, recipient=customer.email,
                  ticket=ticket, message_row=message, mailbox=mailbox, automatic=False)


def recent_automatic(addresses) -> dict[str, int]:
    """Automatic mails queued to each address in the last hour."""
    return dict(db.session.execute(
        select(Outbox.recipient, func.count()).where(
            Outbox.recipient.in_(list(addresses)), Outbox.is_automatic.is_(True),
            Outbox.created_at >= utcnow() - timedelta(hours=1))
        .group_by(Outbox.recipient)).all())


def automatic_refusal(customer: Customer | None, sent_this_hour: int) -> str:
    """Why no more automatic mail may go to this customer now ("" when it may)."""
    if customer is not None and customer.undeliverable_at is not None:
        return "address marked undeliverable by a bounce"
    if customer is not None and customer.is_blocked:
        return "customer blocked"
    if sent_this_hour >= AUTOMATIC_PER_HOUR:
        return f"rate limit: {AUTOMATIC_PER_HOUR} automatic mails per hour"
    return ""


def automatic_allowed(address: str) -> tuple[bool, str]:
    """May we send one more automatic mail to this address now? (reason when not)"""
    customer = db.session.scalar(select(Customer).where(Customer.email == address))
    refusal = automatic_refusal(customer, recent_automatic([address]).get(address, 0))
    return not refusal, refusal


def acknowledges(org: Organization) -> bool:
    return org.settings.get("acknowledge") is not False


def acknowledgement(org: Organization, mailbox: Mailbox | None, customer: Customer, *,
                    ticket_id: int, number: int, subject: str, in_reply_to: str | None,
                    references: list[str]) -> Message:
    """The automatic "we got it, your number is #n" mail (built, not queued)."""
    sender, sender_address = _sender(org, mailbox)
    context = {
        "customer": {"name": customer.name or customer.email.split("@")[0],
                     "email": customer.email, "company": customer.company},
        "ticket": {"number": number, "subject": subject, "status": "new",
                   "priority": "normal"},
        "agent": {}, "org": {"name": org.name},
    }
    body = canned.render(org.settings.get("ack_template") or DEFAULT_ACK, context)
    return build(sender=sender, sender_address=sender_address,
                 to=address(customer.name, customer.email),
                 subject=reply_subject(subject, number), text=body,
                 reply_to=tokens.reply_address(sender_address, org.id, ticket_id),
                 in_reply_to=in_reply_to, references=references, automatic=True,
                 loop=tokens.loop_value(org.id))


def outbox_row(mail: Message, *, kind: OutboxKind, org_id: int, recipient: str,
               ticket_id: int | None, message_row_id: int | None, mailbox_id: int | None,
               automatic: bool) -> dict:
    """The Outbox row for a built mail, as values (for one add or a bulk insert)."""
    return {"org_id": org_id, "kind": kind, "ticket_id": ticket_id,
            "message_row_id": message_row_id, "mailbox_id": mailbox_id,
            "recipient": recipient, "sender": decoded(mail["From"])[:254],
            "subject": decoded(mail["Subject"])[:500], "message_id": str(mail["Message-ID"]),
            "is_automatic": automatic, "raw": wire_bytes(mail)}


def queue_acknowledgement(ticket: Ticket) -> Outbox | None:
    """Queue the acknowledgement of a new ticket from a person (unless the org turned them
    off, the address bounced, or it already had its automatic mail for the hour)."""
    customer = db.session.get(Customer, ticket.customer_id)
    allowed, _ = automatic_allowed(customer.email)
    org = db.session.get(Organization, ticket.org_id)
    if not allowed or not acknowledges(org):
        return None
    mailbox = mailbox_for(ticket)
    in_reply_to, references = _thread_headers(ticket)
    mail = acknowledgement(org, mailbox, customer, ticket_id=ticket.id, number=ticket.number,
                           subject=ticket.subject, in_reply_to=in_reply_to,
                           references=references)
    return _queue(mail, kind=OutboxKind.ACK, org_id=ticket.org_id, recipient=customer.email,
                  ticket=ticket, message_row=None, mailbox=mailbox, automatic=True)


def queue_notification(to: str, subject: str, text: str, ticket: Ticket | None) -> Outbox:
    """A mail to staff (mentions, assignments). Automatic, from the org's mailbox."""
    org_id = ticket.org_id if ticket is not None else None
    org = db.session.get(Organization, org_id)
    mailbox = mailbox_for(ticket)
    sender, sender_address = _sender(org, mailbox)
    mail = build(sender=sender, sender_address=sender_address, to=to, subject=subject,
                 text=text, automatic=True, loop=tokens.loop_value(org.id))
    mail.replace_header("Auto-Submitted", "auto-generated")
    return _queue(mail, kind=OutboxKind.NOTIFICATION, org_id=org.id, recipient=to,
                  ticket=ticket, message_row=None, mailbox=mailbox, automatic=True)
