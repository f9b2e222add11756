"""Canned responses: Jinja placeholders rendered in a sandbox; unknown ones render empty."""

from __future__ import annotations

import functools

from jinja2 import ChainableUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import or_, select, update

from helpdesk.accounts.models import User
from helpdesk.core.exceptions import NotAllowed, ValidationFailed
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from helpdesk.tickets.models import CannedResponse, Ticket

MAX_BODY = 20_000
# What a canned response may use: placeholders, a few string filters, if/else. No loops, calls
# or arithmetic, so rendering costs time and memory in proportion to the text itself.
ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Getattr,
                 nodes.Getitem, nodes.Const, nodes.Filter, nodes.If, nodes.CondExpr,
                 nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Concat)
ALLOWED_FILTERS = {"default", "d", "upper", "lower", "title", "capitalize", "trim"}
PLACEHOLDER_HELP = ("Use placeholders such as {{ customer.name }}, {{ ticket.number }}, "
                    "{{ agent.name }} and {{ org.name }}, optionally with a filter "
                    "(default, upper, lower, title, capitalize, trim) or {% if %}.")


class TemplateRejected(ValueError):
    """The body is not a valid canned-response template; the message says why."""


_environment = SandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)


def check_template(body: str) -> None:
    """Raises TemplateRejected for a syntax error or anything beyond simple placeholders."""
    if len(body) > MAX_BODY:
        raise TemplateRejected(f"At most {MAX_BODY} characters.")
    try:
        tree = _environment.parse(body)
    except TemplateSyntaxError as error:
        raise TemplateRejected(f"Template error on line {error.lineno}: {error.message}. "
                               f"{PLACEHOLDER_HELP}") from error
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, ALLOWED_NODES):
            raise TemplateRejected(f"“{type(node).__name__}” is not allowed here. "
                                   f"{PLACEHOLDER_HELP}")
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            raise TemplateRejected(f"The filter “{node.name}” is not allowed. {PLACEHOLDER_HELP}")


def context_for(ticket: Ticket | None, agent: User | None, org: Organization) -> dict:
    """Plain dicts only: templates never see ORM objects (nothing to call or walk)."""
    customer = ticket.customer if ticket is not None else None
    return {
        "customer": {"name": customer.name or customer.email.split("@")[0], "email": customer.email,
                     "company": customer.company} if customer else {},
        "ticket": {"number": ticket.number, "subject": ticket.subject,
                   "status": ticket.status.value, "priority": ticket.priority.value}
        if ticket else {},
        "agent": {"name": agent.name, "email": agent.email} if agent else {},
        "org": {"name": org.name},
    }


@functools.lru_cache(maxsize=256)
def _compiled(body: str):
    """Checked and compiled once per template text (acknowledgements render per mail)."""
    check_template(body)
    return _environment.from_string(body)


def render(body: str, context: dict) -> str:
    """The body with placeholders filled; unknown placeholders render empty. A body that
    fails check_template (saved before the rules, or a preview) comes back as written."""
    try:
        return _compiled(body).render(context)
    except Exception:  # rejected, or a runtime error such as comparing str and int
        return body


def visible_to(user_id: int):
    return select(CannedResponse).where(or_(CannedResponse.owner_user_id.is_(None),
                                            CannedResponse.owner_user_id == user_id))


def list_for(user_id: int, query: str = "") -> list[CannedResponse]:
    statement = visible_to(user_id).order_by(CannedResponse.usage_count.desc(),
                                             CannedResponse.title)
    if query:
        like = f"%{query.replace('%', '').replace('_', '')}%"
        statement = statement.where(or_(CannedResponse.title.ilike(like),
                                        CannedResponse.body.ilike(like)))
    return list(db.session.scalars(statement.limit(50)))


def save_canned(user_id: int, *, title: str, body: str, shared: bool,
                canned: CannedResponse | None = None) -> CannedResponse:
    title, body = (title or "").strip()[:200], (body or "").strip()
    errors = {}
    if not title:
        errors["title"] = "Give it a title."
    if not body:
        errors["body"] = "Write the response."
    if body and "body" not in errors:
        try:
            check_template(body)
        except TemplateRejected as error:
            errors["body"] = str(error)
    if errors:
        raise ValidationFailed("Incomplete canned response.", errors)
    if canned is not None and canned.owner_user_id not in (None, user_id):
        raise NotAllowed("This canned response belongs to a colleague.")
    canned = canned or CannedResponse(usage_count=0)
    canned.title, canned.body = title, body
    canned.owner_user_id = None if shared else user_id
    db.session.add(canned)
    db.session.flush()
    return canned


def use_canned(user_id: int, canned_id: int, ticket: Ticket | None) -> str:
    """The rendered body for the reply box; counts the use. Raises NotAllowed if not visible."""
    canned = db.session.scalar(visible_to(user_id).where(CannedResponse.id == canned_id))
    if canned is None:
        raise NotAllowed("No such canned response.")
    db.session.execute(update(CannedResponse).where(CannedResponse.id == canned.id)
                       .values(usage_count=CannedResponse.usage_count + 1))
    org = db.session.get(Organization, canned.org_id)
    return render(canned.body, context_for(ticket, db.session.get(User, user_id), org))
