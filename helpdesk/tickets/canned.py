"""Canned responses: Jinja placeholders rendered in a sandbox; unknown ones render empty."""

from __future__ import annotations

from jinja2 import ChainableUndefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import or_, select, update

from helpdesk.accounts.models import User
from helpdesk.core.exceptions import NotAllowed, ValidationFailed
from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from helpdesk.tickets.models import CannedResponse, Ticket

MAX_PRODUCT = 10_000


class _CannedEnvironment(SandboxedEnvironment):
    """The sandbox, plus bounds on `*` and `**`: a body like {{ 9999999 ** 9999999 }} or
    {{ "x" * 10**9 }} would otherwise tie up the worker (intercepted ops also skip folding)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, int | float) and (
                abs(right) > 64 or isinstance(left, int) and left.bit_length() * right > 4096):
            raise SecurityError("exponent too large")
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (isinstance(sequence, str | list | tuple) and isinstance(times, int)
                        and len(sequence) * abs(times) > MAX_PRODUCT):
                    raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)


_environment = _CannedEnvironment(undefined=ChainableUndefined, autoescape=False)


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


def render(body: str, context: dict) -> str:
    """The body with placeholders filled. A broken template comes back as written."""
    try:
        return _environment.from_string(body).render(context)
    except Exception:  # syntax, sandbox, and runtime errors ({{ 1/0 }}, {{ 1 + "a" }}) alike
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
