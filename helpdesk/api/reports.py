"""API v1: the manager's reports (helpdesk.reports), the same figures as the desk's pages."""

from __future__ import annotations

from flask import g, request
from marshmallow import Schema, fields

from helpdesk.api import bp
from helpdesk.api.auth import token_required
from helpdesk.api.operations import operation
from helpdesk.reports import services
from helpdesk.reports.params import REPORTS, ReportArgs

Minutes = lambda description="": fields.Float(  # noqa: E731
    allow_none=True, metadata={"description": description or "Business minutes (null: none)."})


class FiltersSchema(Schema):
    team = fields.Integer(allow_none=True)
    agent = fields.Raw(allow_none=True, metadata={"type": ["integer", "string"],
                                                  "description": 'A user id or "none".'})
    tag = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)


class SeriesPointSchema(Schema):
    """One bucket. volume: created, solved, reopened, backlog; first-response: the counts and
    medians of first and next replies; resolution: count and median."""

    period = fields.String(required=True, metadata={"format": "date", "description": "The "
                                                    "bucket's first local day."})
    created = fields.Integer()
    solved = fields.Integer()
    reopened = fields.Integer()
    backlog = fields.Integer(metadata={"description": "Open at the bucket's end."})
    first_reply_count = fields.Integer()
    first_reply_median_minutes = Minutes()
    next_reply_count = fields.Integer()
    next_reply_median_minutes = Minutes()
    count = fields.Integer()
    median_minutes = Minutes()


class TotalsSchema(Schema):
    created = fields.Integer()
    solved = fields.Integer()
    reopened = fields.Integer()
    backlog = fields.Integer(metadata={"description": "Open at the range's end."})


class BreakdownRowSchema(Schema):
    value = fields.String(allow_none=True, metadata={"description": "null: tickets without "
                                                                    "tags (by=tag)."})
    created = fields.Integer()
    solved = fields.Integer()


class BreakdownSchema(Schema):
    by = fields.String(metadata={"enum": ["channel", "tag", "priority"]})
    rows = fields.List(fields.Nested(BreakdownRowSchema))


class HistogramBucketSchema(Schema):
    label = fields.String(metadata={"description": "< 1 h, 1-4 h, 4-8 h, 8-24 h, 1-3 days, "
                                                   "> 3 days (business time)."})
    count = fields.Integer()


class SpeedSchema(Schema):
    count = fields.Integer()
    median_minutes = Minutes()
    p90_minutes = Minutes()
    histogram = fields.List(fields.Nested(HistogramBucketSchema))


class TargetSchema(Schema):
    target = fields.String(metadata={"enum": ["first_reply", "next_reply", "resolution"]})
    achieved = fields.Integer()
    breached = fields.Integer()
    achieved_rate = fields.Float(allow_none=True, metadata={"description": "0..1; null when "
                                                                           "no target applied."})


class PolicyOutcomeSchema(Schema):
    policy_id = fields.Integer(allow_none=True)
    name = fields.String()
    targets = fields.List(fields.Nested(TargetSchema))


class BreachSchema(Schema):
    ticket_number = fields.Integer()
    subject = fields.String()
    target = fields.String()
    due = fields.String(metadata={"description": "When it was due (ISO 8601)."})
    at = fields.String(metadata={"description": "When the breach was recorded (ISO 8601)."})
    url = fields.String(metadata={"description": "The ticket in the desk."})


class AgentRowSchema(Schema):
    agent_id = fields.Integer()
    name = fields.String()
    tickets_solved = fields.Integer()
    replies = fields.Integer()
    first_reply_median_minutes = Minutes()
    resolution_median_minutes = Minutes()
    open_load = fields.Integer(metadata={"description": "Open, new or pending tickets assigned "
                                                        "now."})


class ReportSchema(Schema):
    """The envelope, then the fields of the report asked for."""

    report = fields.String(required=True, metadata={"enum": list(REPORTS)})
    from_ = fields.String(required=True, data_key="from", attribute="from",
                          metadata={"format": "date"})
    to = fields.String(required=True, metadata={"format": "date"})
    interval = fields.String(required=True, metadata={"enum": ["day", "week", "month"]})
    timezone = fields.String(metadata={"description": "Of the default business calendar: "
                                                      "days and buckets are local to it."})
    filters = fields.Nested(FiltersSchema)
    series = fields.List(fields.Nested(SeriesPointSchema), metadata={
        "description": "volume, first-response, resolution: every bucket, empty ones too."})
    totals = fields.Nested(TotalsSchema, metadata={"description": "volume"})
    breakdown = fields.Nested(BreakdownSchema, metadata={"description": "volume"})
    first_reply = fields.Nested(SpeedSchema, metadata={"description": "first-response"})
    next_reply = fields.Nested(SpeedSchema, metadata={"description": "first-response"})
    resolution = fields.Nested(SpeedSchema, metadata={"description": "resolution"})
    targets = fields.List(fields.Nested(TargetSchema), metadata={"description": "sla"})
    policies = fields.List(fields.Nested(PolicyOutcomeSchema), metadata={"description": "sla"})
    breaches = fields.List(fields.Nested(BreachSchema), metadata={
        "description": "sla: the newest 200 breaches in the range."})
    open_breached = fields.Integer(metadata={"description": "sla: open tickets past a due "
                                                            "time now."})
    agents = fields.List(fields.Nested(AgentRowSchema), metadata={"description": "agents"})
    available = fields.Boolean(metadata={"description": "csat: false until surveys exist."})
    message = fields.String(metadata={"description": "csat"})


@bp.get("/reports/<name>")
@token_required
@operation("A report", tag="reports", query=ReportArgs, response=ReportSchema, errors=(403,),
           description="Names: " + ", ".join(REPORTS) + ". Managers, admins and owners only. "
                       "Spam and merged tickets are never counted.")
def reports_get(name: str, query: dict):
    return services.build_report(g.membership, g.org, name, request.args)
