"""API v1: a ticket's thread, replies and notes, and attachment downloads."""

from __future__ import annotations

from flask import g, send_file
from marshmallow import Schema, fields
from sqlalchemy import select

from helpdesk.api import bp
from helpdesk.api.auth import token_required
from helpdesk.api.operations import operation
from helpdesk.api.ticket_schemas import MessageCreateSchema, MessageSchema
from helpdesk.api.tickets import find_ticket
from helpdesk.core.errors import ApiError
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.tickets import attachments, services
from helpdesk.tickets.models import Attachment, Message

ThreadSchema = Schema.from_dict(
    {"data": fields.List(fields.Nested(MessageSchema), required=True)}, name="ThreadSchema"
)


@bp.get("/tickets/<id:number>/messages")
@token_required
@operation("List a ticket's messages", tag="messages", response=ThreadSchema,
           description="Oldest first: customer messages, public replies and internal notes.")
def messages_list(number: int):
    ticket = find_ticket(number)
    messages = db.session.scalars(
        select(Message).where(Message.ticket_id == ticket.id)
        .order_by(Message.created_at, Message.id)
    ).unique().all()
    authors = {m.author_customer_id for m in messages} - {None, ticket.customer_id}
    if authors:  # into the identity map: one query for every customer who wrote
        db.session.scalars(select(Customer).where(Customer.id.in_(authors))).all()
    return {"data": messages}


@bp.post("/tickets/<id:number>/messages")
@token_required
@operation("Reply or add a note", tag="messages", body=MessageCreateSchema,
           response=MessageSchema, status=201, errors=(403, 409),
           description="`internal: false` (default) is a public reply, emailed to the "
                       "customer; `internal: true` is a note for the team (@mentions notify).")
def messages_create(number: int, body: dict):
    ticket = find_ticket(number, for_update=True)
    text, html = body.get("body"), body.get("body_html")
    if body["internal"]:
        if "status" in body:
            raise ApiError(422, "Notes do not change the status.",
                           {"status": "Only replies (internal: false) can set a status."})
        return services.add_note(g.membership.user_id, ticket, body_text=text, body_html=html)
    return services.add_reply(g.membership.user_id, ticket, body_text=text, body_html=html,
                              status=body.get("status"))


@bp.get("/attachments/<id:attachment_id>")
@token_required
@operation("Download an attachment", tag="messages", content_type="application/octet-stream",
           description="Images, PDF and plain text are served inline with their type; "
                       "anything else downloads as application/octet-stream.")
def attachment_download(attachment_id: int):
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        raise ApiError(404, "No such attachment.")
    try:
        path = attachments.attachment_path(attachment)
    except ValueError as error:
        raise ApiError(404, "No such attachment.") from error
    if not path.is_file():
        raise ApiError(404, "The attachment's file is missing.")
    inline = attachment.content_type in attachments.INLINE_TYPES
    # Only types a browser renders harmlessly keep their type: an HTML or SVG "attachment"
    # must never run as a page of this site.
    mimetype = attachment.content_type if inline else "application/octet-stream"
    response = send_file(path, mimetype=mimetype, as_attachment=not inline,
                         download_name=attachment.filename, conditional=False, etag=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
