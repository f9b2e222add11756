"""The manager's reports: who may read them, their parameters checked against the org, and the
report itself in one envelope, the same for the API, the desk page and the CSV export.

Each report is a few aggregating statements (helpdesk.reports.volume, speed, sla, agents).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select

from helpdesk.core.exceptions import NotAllowed, ValidationFailed
from helpdesk.extensions import db
from helpdesk.orgs.models import Membership, Organization, Role
from helpdesk.reports import params as report_params
from helpdesk.reports.agents import agents
from helpdesk.reports.params import ReportParams
from helpdesk.reports.sla import sla
from helpdesk.reports.speed import first_response, resolution
from helpdesk.reports.sql import plan_for_reports
from helpdesk.reports.volume import volume
from helpdesk.sla.clock import default_calendar
from helpdesk.tickets.models import Team

CSAT_MESSAGE = "Satisfaction surveys arrive with the customer portal; this report fills in then."
MIN_ROLE = Role.MANAGER
TITLES = {
    "volume": "Ticket volume",
    "first-response": "First and next replies",
    "resolution": "Resolution time",
    "sla": "SLA achievement",
    "agents": "Agents",
    "csat": "Customer satisfaction",
}
DESCRIPTIONS = {
    "volume": "Tickets created, solved and reopened, and the open backlog, per day, week or "
              "month; by channel, tag or priority.",
    "first-response": "How long customers waited for a first reply and for each next reply, "
                      "in business hours.",
    "resolution": "How long tickets took from opened to solved, in business hours.",
    "sla": "Targets met and breached, per policy, the latest breaches, and open tickets past "
           "due.",
    "agents": "Solved tickets, replies, reply and resolution times and the open load of each "
              "member.",
    "csat": "Satisfaction survey results.",
}


def csat(params: ReportParams, org_id: int) -> dict[str, Any]:
    return {"available": False, "message": CSAT_MESSAGE}


RUNNERS: dict[str, Callable[[ReportParams, int], dict[str, Any]]] = {
    "volume": volume, "first-response": first_response, "resolution": resolution, "sla": sla,
    "agents": agents, "csat": csat,
}


def may_view(membership: Membership | None) -> bool:
    return membership is not None and membership.role.rank >= MIN_ROLE.rank


def require_viewer(membership: Membership | None) -> None:
    """Raises NotAllowed (403) unless the member is a manager, admin or owner."""
    if not may_view(membership):
        raise NotAllowed("Reports are for managers, admins and owners; ask one of them for "
                         "the manager role.")


def report_timezone(org_id: int) -> str:
    """The time zone of the org's default business calendar (UTC without one)."""
    calendar = default_calendar(org_id)
    return calendar.timezone if calendar and calendar.timezone else "UTC"


def parse_params(org: Organization, name: str, args: Mapping[str, str], *,
                 strict: bool = True) -> ReportParams:
    """Checked parameters of report `name`. Raises NotFound (an unknown report), or
    ValidationFailed naming the field (bad values, another org's team or member)."""
    report_params.check_name(name)
    params = report_params.parse(name, args, report_timezone(org.id), strict=strict)
    if params.team_id is not None and db.session.get(Team, params.team_id) is None:
        raise ValidationFailed("No such team.", {"team": "No team of this organization has "
                                                          "that id."})
    if isinstance(params.agent, int) and db.session.scalar(select(Membership.user_id).where(
            Membership.org_id == org.id, Membership.user_id == params.agent)) is None:
        raise ValidationFailed("No such member.", {"agent": "No member of this organization "
                                                            "has that id."})
    return params


def run_report(org: Organization, params: ReportParams) -> dict[str, Any]:
    """The report: the envelope (name, range, interval, filters) and its figures."""
    plan_for_reports()
    return {
        "report": params.name,
        "from": params.first_day.isoformat(),
        "to": params.last_day.isoformat(),
        "interval": params.interval,
        "timezone": params.timezone,
        "filters": params.filters,
        **RUNNERS[params.name](params, org.id),
    }


def build_report(membership: Membership | None, org: Organization, name: str,
                 args: Mapping[str, str], *, strict: bool = True) -> dict[str, Any]:
    """Check the reader, the name and the parameters, then run the report. Raises NotAllowed,
    NotFound or ValidationFailed."""
    require_viewer(membership)
    return run_report(org, parse_params(org, name, args, strict=strict))
