"""API v1: who am I, and the org's tags. Tickets, messages and customers have their modules."""

from __future__ import annotations

from flask import g
from marshmallow import Schema, fields
from sqlalchemy import func, select

from helpdesk.api import bp
from helpdesk.api.auth import token_required
from helpdesk.api.operations import operation
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket

MeSchema = Schema.from_dict(
    {
        "user": fields.Dict(metadata={"description": "id, email, name"}),
        "org": fields.Dict(metadata={"description": "id, slug, name, plan"}),
        "role": fields.String(),
    },
    name="MeSchema",
)


@bp.get("/me")
@token_required
@operation("The token's user and organization", tag="account", response=MeSchema)
def me():
    user = g.membership.user
    return {
        "user": {"id": user.id, "email": user.email, "name": user.name},
        "org": {"id": g.org.id, "slug": g.org.slug, "name": g.org.name, "plan": g.org.plan},
        "role": g.membership.role.value,
    }


class TagCountSchema(Schema):
    name = fields.String()
    count = fields.Integer(metadata={"description": "Tickets carrying the tag."})


TagListSchema = Schema.from_dict(
    {
        "data": fields.List(fields.Nested(TagCountSchema), required=True),
        "next": fields.String(allow_none=True, metadata={"description": "Always null: "
                                                         "every tag is on one page."}),
    },
    name="TagListSchema",
)


@bp.get("/tags")
@token_required
@operation("List tags with their ticket counts", tag="tags", response=TagListSchema,
           description="Most used first.")
def tags_list():
    tag = func.unnest(Ticket.tags).label("name")
    used = select(tag).where(Ticket.org_id == g.org.id).subquery()
    rows = db.session.execute(
        select(used.c.name, func.count().label("count"))
        .group_by(used.c.name)
        .order_by(func.count().desc(), used.c.name)
    ).all()
    return {"data": [{"name": name, "count": count} for name, count in rows], "next": None}
