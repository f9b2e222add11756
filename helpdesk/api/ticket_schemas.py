"""Tickets and messages in the API: what requests may carry, and what responses look like."""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import Schema, ValidationError, fields, validate

from helpdesk.api.schemas import Email, Id, Text
from helpdesk.core.models import utcnow
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.sla.models import TARGETS
from helpdesk.tickets import sla_display
from helpdesk.tickets.models import Channel, Message, MessageKind, Priority, Status, Ticket
from helpdesk.tickets.services import MAX_BODY, MAX_TAGS


class StrictBoolean(fields.Boolean):
    """JSON true or false only: "yes", 1 or "true" are mistakes worth a 422."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value

class UserRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()


class CustomerRefSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()


class TeamRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class SlaPolicyRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class SlaSchema(Schema):
    policy = fields.Nested(SlaPolicyRefSchema, allow_none=True, metadata={
        "description": "The SLA policy the ticket matched; null: none applies."})
    first_reply_due_at = fields.DateTime(allow_none=True, metadata={
        "description": "Until the first agent reply; null when not running."})
    next_reply_due_at = fields.DateTime(allow_none=True, metadata={
        "description": "While a customer message waits for an answer."})
    resolution_due_at = fields.DateTime(allow_none=True, metadata={
        "description": "Until solved; null once solved."})
    due_at = fields.DateTime(allow_none=True, metadata={
        "description": "The soonest of the running due times."})
    paused = fields.Boolean(metadata={"description": "Pending: the clock stands still."})
    breached = fields.List(fields.String(validate=validate.OneOf(TARGETS)), metadata={
        "description": "Targets missed: replied or solved late, or overdue now."})


class TicketSchema(Schema):
    id = fields.Integer()
    number = fields.Integer(metadata={"description": "Per-organization ticket number."})
    subject = fields.String()
    status = fields.Enum(Status, by_value=True)
    priority = fields.Enum(Priority, by_value=True)
    channel = fields.Enum(Channel, by_value=True)
    customer = fields.Nested(CustomerRefSchema)
    assignee = fields.Nested(UserRefSchema, allow_none=True)
    team = fields.Nested(TeamRefSchema, allow_none=True)
    tags = fields.List(fields.String())
    custom_fields = fields.Dict(keys=fields.String())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    last_activity_at = fields.DateTime()
    first_response_at = fields.DateTime(allow_none=True)
    solved_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    merged_into = fields.Integer(allow_none=True, metadata={
        "description": "Number of the ticket this one was merged into."})
    follow_up_of = fields.Integer(allow_none=True, metadata={
        "description": "Number of the closed ticket this one follows up."})
    sla = fields.Nested(SlaSchema, metadata={
        "description": "The SLA clock: policy, due times (business hours), pause, breaches."})
    order_id = fields.Integer(allow_none=True, metadata={
        "description": "The store order the ticket is about (GET /api/v1/store/orders/<id>)."})

    def get_attribute(self, obj: Ticket, attr: str, default: Any):
        if attr in ("merged_into", "follow_up_of"):
            linked_id = obj.merged_into_id if attr == "merged_into" else obj.follow_up_of_id
            return None if linked_id is None else db.session.get(Ticket, linked_id).number
        if attr == "sla":
            return sla_display.api_fields(obj, utcnow())
        return super().get_attribute(obj, attr, default)


class CreatedTicketSchema(TicketSchema):
    """The new ticket (order_id: the order it was linked to, if one was given)."""


class AttachmentSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer(metadata={"description": "Bytes."})
    url = fields.Function(lambda a: url_for("api.attachment_download", attachment_id=a.id),
                          metadata={"type": "string", "description": "Download URL."})


class AuthorSchema(Schema):
    type = fields.String(validate=validate.OneOf(["user", "customer"]))
    id = fields.Integer()
    name = fields.String()
    email = fields.String()


class MessageSchema(Schema):
    id = fields.Integer()
    kind = fields.Enum(MessageKind, by_value=True)
    author = fields.Nested(AuthorSchema, allow_none=True)
    body_text = fields.String()
    body_html = fields.String(metadata={"description": "Sanitized HTML, safe to display."})
    created_at = fields.DateTime()
    attachments = fields.List(fields.Nested(AttachmentSchema))

    def get_attribute(self, obj: Message, attr: str, default: Any):
        if attr == "author":
            if obj.author_user is not None:
                user = obj.author_user
                return {"type": "user", "id": user.id, "name": user.name, "email": user.email}
            if obj.author_customer_id is not None:
                customer = db.session.get(Customer, obj.author_customer_id)
                return {"type": "customer", "id": customer.id, "name": customer.name,
                        "email": customer.email}
            return None
        return super().get_attribute(obj, attr, default)


class OrderId(fields.Field):
    """A store order's id: a positive integer (or one written as digits)."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> int:
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 19:
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
            raise ValidationError("Must be an order id (a positive whole number).")
        return value


def tag_list(description: str) -> fields.List:
    return fields.List(Text(max_length=50), validate=validate.Length(max=MAX_TAGS),
                       metadata={"description": description})


class TicketCreateSchema(Schema):
    subject = Text(required=True, max_length=500)
    body = Text(max_length=MAX_BODY, strip=False, metadata={"description": "Plain text."})
    body_html = Text(max_length=MAX_BODY, strip=False,
                     metadata={"description": "HTML; sanitized on the way in."})
    customer_email = Email(required=True)
    customer_name = Text(max_length=200)
    priority = fields.Enum(Priority, by_value=True)
    tags = tag_list("Tags; lower-cased.")
    custom_fields = fields.Dict(keys=fields.String())
    assignee = Id(allow_none=True, metadata={"description": "User id of a team member."})
    order_id = OrderId(allow_none=True, metadata={
        "type": "integer", "description": "Link the ticket to this store order: it "
        "must be an order of the org and of `customer_email` (else 422)."})


class TicketUpdateSchema(Schema):
    subject = Text(max_length=500)
    status = fields.Enum(Status, by_value=True)
    priority = fields.Enum(Priority, by_value=True)
    assignee = Id(allow_none=True, metadata={"description": "User id, or null to unassign."})
    team = Id(allow_none=True, metadata={"description": "Team id, or null."})
    tags = tag_list("Replace all tags.")
    add_tags = tag_list("Tags to add.")
    remove_tags = tag_list("Tags to remove.")
    custom_fields = fields.Dict(keys=fields.String(), metadata={
        "description": "Only the keys given change; null clears a field."})


class MessageCreateSchema(Schema):
    body = Text(max_length=MAX_BODY, strip=False, metadata={"description": "Plain text."})
    body_html = Text(max_length=MAX_BODY, strip=False,
                     metadata={"description": "HTML; sanitized on the way in."})
    internal = StrictBoolean(load_default=False, metadata={
        "description": "true: an internal note; false: a public reply, sent by email."})
    status = fields.Enum(Status, by_value=True, metadata={
        "description": "Replies only: the status to move the ticket to."})
