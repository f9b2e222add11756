"""Desk settings of the ticket domain: canned responses, custom fields, teams, signatures,
availability and the assignment mode (rules: admin_rules). Services validate, change state and
flush."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import func, select

from helpdesk.accounts.models import User
from helpdesk.core.exceptions import Conflict, NotAllowed, ValidationFailed
from helpdesk.extensions import db
from helpdesk.orgs.models import Membership, Organization, Role
from helpdesk.orgs.services import lock_org
from helpdesk.tickets import canned, events
from helpdesk.tickets.assignment import MODES
from helpdesk.tickets.models import CannedResponse, CustomField, CustomFieldType, Team, Ticket

MAX_CANNED_BODY = 20_000
MAX_SIGNATURE = 2_000
MAX_OPTIONS = 100
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


def is_admin(membership: Membership) -> bool:
    return membership.role.rank >= Role.ADMIN.rank


def one_line(value: str | None, limit: int) -> str:
    return " ".join((value or "").split())[:limit]


def move_in_order(items: list, item, offset: int) -> None:
    """Swap `item` with its neighbour and number everything 0..n-1 (older rows may share 0)."""
    index = next(i for i, each in enumerate(items) if each is item)
    target = index + offset
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]
    for position, each in enumerate(items):
        each.position = position
    db.session.flush()


def next_position(model) -> int:
    return db.session.scalar(select(func.coalesce(func.max(model.position), -1))) + 1


# Canned responses ------------------------------------------------------------------------------

def canned_for(actor: Membership) -> list[CannedResponse]:
    """The shared responses, then the actor's own; colleagues' personal ones never appear."""
    return list(db.session.scalars(canned.visible_to(actor.user_id).order_by(
        CannedResponse.owner_user_id.is_not(None), func.lower(CannedResponse.title),
        CannedResponse.id)))


def get_canned(actor: Membership, canned_id: int) -> CannedResponse | None:
    """A shared response or one of the actor's; None for a colleague's (or another org's)."""
    return db.session.scalar(canned.visible_to(actor.user_id)
                             .where(CannedResponse.id == canned_id))


def can_manage_canned(actor: Membership, response: CannedResponse | None) -> bool:
    if response is None or response.owner_user_id == actor.user_id:
        return True
    return response.owner_user_id is None and is_admin(actor)


def save_canned_response(actor: Membership, *, title: str, body: str, shared: bool,
                         response: CannedResponse | None = None) -> CannedResponse:
    """Create or edit. Any agent manages their own; shared ones need admin or owner.

    Raises NotAllowed (shared without the role, a colleague's) and ValidationFailed.
    """
    if not can_manage_canned(actor, response) or (shared and not is_admin(actor)):
        raise NotAllowed("Only admins and owners can manage shared canned responses.",
                         {"shared": "Only admins and owners can share responses with the team."})
    if len(body or "") > MAX_CANNED_BODY:
        raise ValidationFailed("Too long.", {"body": f"At most {MAX_CANNED_BODY} characters."})
    return canned.save_canned(actor.user_id, title=title, body=body, shared=shared,
                              canned=response)


def delete_canned_response(actor: Membership, response: CannedResponse) -> None:
    """Raises NotAllowed unless the actor may manage this response."""
    if not can_manage_canned(actor, response):
        raise NotAllowed("Only admins and owners can delete shared canned responses.")
    db.session.delete(response)
    db.session.flush()


def sample_context(agent: User, org: Organization) -> dict[str, Any]:
    """Made-up customer and ticket, the real agent and org: the same keys as a real reply."""
    return {
        "customer": {"name": "Jane Doe", "email": "jane.doe@example.com",
                     "company": "Example Ltd"},
        "ticket": {"number": 1042, "subject": "Where is my order?", "status": "open",
                   "priority": "normal"},
        "agent": {"name": agent.name, "email": agent.email},
        "org": {"name": org.name},
    }


def preview_canned(body: str, agent: User, org: Organization) -> str:
    """The body rendered with sample data; a broken template comes back as written."""
    return canned.render(body or "", sample_context(agent, org))


# Custom fields ---------------------------------------------------------------------------------

def list_custom_fields() -> list[CustomField]:
    return list(db.session.scalars(select(CustomField)
                                   .order_by(CustomField.position, CustomField.id)))


def key_from_label(label: str) -> str:
    ascii_label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9]+", "_", ascii_label.lower()).strip("_")[:50].strip("_")
    return key if key[:1].isalpha() else f"field_{key}".rstrip("_")[:50]


def _clean_options(options: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(o for o in (one_line(o, 100) for o in options) if o))
    if not cleaned:
        raise ValidationFailed("Options missing.", {"options": "A dropdown needs at least one "
                                                               "option, one per line."})
    if len(cleaned) > MAX_OPTIONS:
        raise ValidationFailed("Too many options.", {"options": f"At most {MAX_OPTIONS}."})
    return cleaned


def save_custom_field(*, label: str, field_type: str, options: list[str], key: str = "",
                      field: CustomField | None = None) -> CustomField:
    """Create a field (key given or derived from the label) or edit one (its key stays: tickets
    and API clients use it). Raises ValidationFailed, and Conflict for a key already in use."""
    label = one_line(label, 100)
    if not label:
        raise ValidationFailed("Label missing.", {"label": "Give the field a label."})
    try:
        kind = CustomFieldType(field_type)
    except ValueError:
        raise ValidationFailed("Unknown type.", {"field_type": "Choose a listed type."}) from None
    cleaned = _clean_options(options) if kind is CustomFieldType.DROPDOWN else []
    if field is None:
        key = (key or "").strip().lower() or key_from_label(label)
        if len(key) > 50 or not KEY_PATTERN.match(key):
            raise ValidationFailed("Invalid key.", {"key": "Use lowercase letters, digits, - or _ "
                                                           "(starting with a letter)."})
        if db.session.scalar(select(CustomField.id).where(CustomField.key == key)):
            raise Conflict("Duplicate key.", {"key": f"A field with the key “{key}” already "
                                                     "exists. Choose another key."})
        field = CustomField(key=key, position=next_position(CustomField))
        db.session.add(field)
    field.label, field.field_type, field.options = label, kind, cleaned
    db.session.flush()
    return field


def move_custom_field(field: CustomField, offset: int) -> None:
    move_in_order(list_custom_fields(), field, offset)


def delete_custom_field(field: CustomField) -> None:
    """Values already stored on tickets stay in their data but are no longer shown or edited."""
    db.session.delete(field)
    db.session.flush()


# Teams -----------------------------------------------------------------------------------------

def list_teams() -> list[Team]:
    return list(db.session.scalars(select(Team).order_by(func.lower(Team.name), Team.id)))


def save_team(name: str, team: Team | None = None) -> Team:
    """Create or rename. Raises ValidationFailed (empty) and Conflict (name in use)."""
    name = one_line(name, 100)
    if not name:
        raise ValidationFailed("Name missing.", {"name": "Name the team."})
    clash = db.session.scalar(select(Team).where(func.lower(Team.name) == name.lower()))
    if clash is not None and clash is not team:
        raise Conflict("Duplicate team.",
                       {"name": f"There is already a team called “{clash.name}”."})
    team = team or Team()
    team.name = name
    db.session.add(team)
    db.session.flush()
    return team


def delete_team(actor_id: int, team: Team) -> int:
    """Delete a team; its tickets keep going with no team (each change on their timeline).
    Returns how many tickets were moved out."""
    tickets = db.session.scalars(select(Ticket).where(Ticket.team_id == team.id)
                                 .with_for_update(of=Ticket)).all()
    for ticket in tickets:
        events.team_changed(ticket, actor_id, team.id, None)
        ticket.team_id = None
    db.session.flush()
    db.session.delete(team)
    db.session.flush()
    return len(tickets)


# Signatures, availability, assignment ----------------------------------------------------------

def _clean_signature(text: str | None) -> str:
    text = "\n".join(line.rstrip() for line in (text or "").strip().splitlines())
    if len(text) > MAX_SIGNATURE:
        raise ValidationFailed("Too long.", {"signature": f"At most {MAX_SIGNATURE} characters."})
    return text


def save_my_signature(membership: Membership, text: str) -> None:
    """The agent's signature in this org, added under their replies. Raises ValidationFailed."""
    membership.signature = _clean_signature(text)
    db.session.flush()


def set_away(membership: Membership, away: bool) -> None:
    """Agents marked away get no new tickets from round-robin or load-balanced assignment."""
    membership.is_away = away
    db.session.flush()


def save_desk_defaults(org: Organization, *, assignment: str, signature: str) -> None:
    """The assignment mode and the org signature. Raises ValidationFailed.

    Takes the org lock and re-reads the settings first: round-robin assignment writes its
    pointer into the same JSON, and a stale copy would rewind it.
    """
    if assignment not in MODES:
        raise ValidationFailed("Unknown mode.", {"assignment": "Choose one of the listed modes."})
    signature = _clean_signature(signature)
    lock_org(org)
    db.session.refresh(org, ["settings"])
    org.settings = {**org.settings, "assignment": assignment, "signature": signature}
    db.session.flush()
