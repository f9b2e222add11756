"""A small help desk history with known moments, lived through the real services.

Time is frozen at each step (time-machine), so the SLA clock, sla_replies and the status events
are written as they would be in production. The org's default calendar is Europe/Berlin,
Mon-Fri 09:00-17:00; in November 2026 Berlin is UTC+1, so business hours are 08:00-16:00 UTC
and a local day D runs from D-1 23:00 UTC to D 23:00 UTC. The plan is professional, so the
default policies apply by priority (first reply / next reply / resolution, business minutes):
Urgent 60/120/480, High 240/480/1440, Normal 480/960/2880, Low 1440/2880/5760.

Members: Ada Agent and Ben Agent (agents), Mia Manager (manager) and the owner.
Teams: Support, Billing. Times below are UTC.

  T9  Mon 26 Oct 08:00  email  normal  Support  -             Ben
      Fri 06 Nov 08:00  Ada replies (first, 9 business days: 4320 min, breached); stays open
  T0  Fri 30 Oct 10:00  email  normal  Support  billing       Ada
      Mon 02 Nov 09:00  Ada replies (first: Fri 10-16 = 360 + Mon 8-9 = 60 -> 420, met)
      Tue 03 Nov 10:00  Ada replies again (kind "more": nobody waited)
      Wed 04 Nov 15:00  solved (resolution 360 + 480 + 480 + 420 = 1740, met)
  T7  Fri 30 Oct 11:00  email  normal  Support  -             Ada
      Fri 30 Oct 12:00  Ada replies (first, 60); 15:00 solved (resolution 240)
  T1  Mon 02 Nov 07:30  email  normal  Support  billing, vip  Ada
      Mon 02 Nov 08:30  Ada replies (first: 08:00-08:30 = 30, met); 10:00 solved
      Tue 03 Nov 09:00  the customer writes: reopened (solved -> open)
      Tue 03 Nov 12:00  Ben replies (next: 09:00-12:00 = 180, met)
      Thu 05 Nov 09:00  solved (resolution: Mon 120 + Tue 09-16 420 + Wed 480 + Thu 60 = 1080)
  T8  Mon 02 Nov 12:00  phone  normal  Billing  vip           Ben
      Thu 05 Nov 14:00  Ben replies (first: 240 + 480 + 480 + 360 = 1560, breached); open
  T2  Mon 02 Nov 23:30  portal urgent  Billing  vip           nobody (local: Tue 3 Nov)
      Tue 03 Nov 10:30  assigned to Ben, who replies (first: 08:00-10:30 = 150, breached)
  T3  Wed 04 Nov 12:00  email  normal  Support  billing       Ben; 13:00 Ben replies; 13:30 spam
  T4  Wed 04 Nov 13:00  email  normal  Billing  vip           Ben; 14:00 merged into T8
  T5  Thu 05 Nov 08:00  api    low     -        -             nobody; never answered
  T6  Sat 07 Nov 10:00  email  high    Billing  billing       Ben
      Mon 09 Nov 08:30  Ben replies (first, 30); 12:00 solved (resolution 240)

The breach scan runs Mon 2 Nov 07:00 (T9 first reply), Tue 3 Nov 09:30 (T2 first reply, T9
resolution) and Wed 4 Nov 07:00 (T2 resolution, T8 first reply). Reports are read at NOW.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import time_machine

from tests.api.conftest import auth
from tests.factories import PASSWORD

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
BERLIN_WEEK = {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Desk:
    """Drives one org's tickets through the services at chosen moments."""

    def __init__(self, app, in_org, org, customer_email: str):
        self.app, self.in_org, self.org = app, in_org, org
        self.customer_email = customer_email
        self.numbers: dict[str, int] = {}

    @contextmanager
    def at(self, moment: str) -> Iterator:
        with time_machine.travel(utc(moment), tick=False), self.in_org(self.org.id) as session:
            yield session

    def ticket(self, label: str):
        from helpdesk.tickets import services

        return services.get_ticket(self.numbers[label])

    def create(self, label: str, moment: str, *, channel: str = "email",
               priority: str = "normal", team: int | None = None, tags=(),
               assignee: int | None = None) -> None:
        from helpdesk.tickets import services
        from helpdesk.tickets.models import Channel, Priority

        with self.at(moment):
            customer = services.find_or_create_customer(self.customer_email, "Casey")
            ticket = services.create_ticket(
                None, subject=f"Ticket {label}", customer=customer, channel=Channel(channel),
                body_text=f"Help with {label}", priority=Priority(priority), tags=list(tags),
                team_id=team, assignee_id=assignee)
            self.numbers[label] = ticket.number

    def reply(self, label: str, moment: str, agent_id: int) -> None:
        from helpdesk.tickets import services

        with self.at(moment):
            services.add_reply(agent_id, self.ticket(label), body_text="On it.", send=False)

    def update(self, label: str, moment: str, actor_id: int | None = None, **changes) -> None:
        from helpdesk.tickets import services

        with self.at(moment):
            services.update_ticket(actor_id, self.ticket(label), **changes)

    def solve(self, label: str, moment: str, actor_id: int | None = None) -> None:
        from helpdesk.tickets.models import Status

        self.update(label, moment, actor_id, status=Status.SOLVED)

    def customer_writes(self, label: str, moment: str) -> None:
        from helpdesk.tickets import services

        with self.at(moment):
            ticket = self.ticket(label)
            services.add_customer_message(ticket, ticket.customer, body_text="Still broken.")

    def merge(self, source: str, target: str, moment: str, actor_id: int) -> None:
        from helpdesk.tickets.merge import merge_tickets

        with self.at(moment):
            merge_tickets(actor_id, self.ticket(target), [self.ticket(source)])

    def scan(self, moment: str) -> None:
        from helpdesk.sla import alerts

        with self.at(moment):
            alerts.scan(utc(moment))


@pytest.fixture
def make_staff(as_system):
    """`make_staff(org, name, role)`: a member with a chosen name (reports sort by name)."""
    from helpdesk.accounts import services as accounts
    from helpdesk.extensions import db
    from helpdesk.orgs.models import Membership, Role

    def _make_staff(org, name: str, role: str = "agent", email: str | None = None):
        email = email or f"{name.split()[0].lower()}@{org.slug}.test"
        with as_system():
            user = accounts.create_user(email=email, name=name, password=PASSWORD)
            db.session.add(Membership(org_id=org.id, user=user, role=Role(role)))
            db.session.flush()
            return SimpleNamespace(id=user.id, email=email, name=name, password=PASSWORD)

    return _make_staff


@pytest.fixture
def make_desk(app, in_org, make_org, make_staff, make_token):
    """`make_desk(slug)`: an org (professional plan, Berlin calendar) with two agents, a
    manager, two teams and tokens for the owner, the manager and an agent."""
    from helpdesk.extensions import db
    from helpdesk.orgs.models import Organization
    from helpdesk.sla import services as sla_services
    from helpdesk.sla.clock import default_calendar
    from helpdesk.tickets.models import Team

    def _make_desk(slug: str) -> SimpleNamespace:
        with time_machine.travel(utc("2026-10-01T09:00:00"), tick=False):
            org = make_org(slug, plan="professional")
            ada = make_staff(org, "Ada Agent")
            ben = make_staff(org, "Ben Agent")
            mia = make_staff(org, "Mia Manager", "manager")
            with in_org(org.id):
                calendar = default_calendar(org.id)
                sla_services.update_calendar(db.session.get(Organization, org.id), calendar, {
                    "name": "Office hours", "timezone": "Europe/Berlin", "hours": BERLIN_WEEK})
                teams = [Team(org_id=org.id, name=name) for name in ("Support", "Billing")]
                db.session.add_all(teams)
                db.session.flush()
                support, billing = (team.id for team in teams)
            tokens = {who: make_token(org, user_id) for who, user_id in
                      (("owner", org.owner_id), ("manager", mia.id), ("agent", ada.id))}
        return SimpleNamespace(
            org=org, id=org.id, slug=slug, ada=ada, ben=ben, mia=mia, support=support,
            billing=billing, headers={who: auth(token) for who, token in tokens.items()},
            desk=Desk(app, in_org, org, f"casey@{slug}.example"))

    return _make_desk


@pytest.fixture
def history(make_desk):
    """The org and history described at the top of this file."""
    d = make_desk("acme")
    desk, ada, ben, support, billing = d.desk, d.ada.id, d.ben.id, d.support, d.billing
    desk.create("T9", "2026-10-26T08:00", team=support, assignee=ben)
    desk.create("T0", "2026-10-30T10:00", team=support, tags=["billing"], assignee=ada)
    desk.create("T7", "2026-10-30T11:00", team=support, assignee=ada)
    desk.reply("T7", "2026-10-30T12:00", ada)
    desk.solve("T7", "2026-10-30T15:00", ada)
    desk.scan("2026-11-02T07:00")
    desk.create("T1", "2026-11-02T07:30", team=support, tags=["billing", "vip"], assignee=ada)
    desk.reply("T1", "2026-11-02T08:30", ada)
    desk.reply("T0", "2026-11-02T09:00", ada)
    desk.solve("T1", "2026-11-02T10:00", ada)
    desk.create("T8", "2026-11-02T12:00", channel="phone", team=billing, tags=["vip"],
                assignee=ben)
    desk.create("T2", "2026-11-02T23:30", channel="portal", priority="urgent", team=billing,
                tags=["vip"])
    desk.customer_writes("T1", "2026-11-03T09:00")
    desk.scan("2026-11-03T09:30")
    desk.reply("T0", "2026-11-03T10:00", ada)
    desk.update("T2", "2026-11-03T10:29", ben, assignee_id=ben)
    desk.reply("T2", "2026-11-03T10:30", ben)
    desk.reply("T1", "2026-11-03T12:00", ben)
    desk.scan("2026-11-04T07:00")
    desk.create("T3", "2026-11-04T12:00", team=support, tags=["billing"], assignee=ben)
    desk.create("T4", "2026-11-04T13:00", team=billing, tags=["vip"], assignee=ben)
    desk.reply("T3", "2026-11-04T13:00", ben)
    desk.update("T3", "2026-11-04T13:30", ben, is_spam=True)
    desk.merge("T4", "T8", "2026-11-04T14:00", ben)
    desk.solve("T0", "2026-11-04T15:00", ada)
    desk.create("T5", "2026-11-05T08:00", channel="api", priority="low")
    desk.solve("T1", "2026-11-05T09:00", ada)
    desk.reply("T8", "2026-11-05T14:00", ben)
    desk.reply("T9", "2026-11-06T08:00", ada)
    desk.create("T6", "2026-11-07T10:00", priority="high", team=billing, tags=["billing"],
                assignee=ben)
    desk.reply("T6", "2026-11-09T08:30", ben)
    desk.solve("T6", "2026-11-09T12:00", ben)
    return d


@pytest.fixture
def sign_in(login):
    """`sign_in(email)`: the desk's login form, at NOW (the time the reports are read)."""

    def _sign_in(email: str):
        with time_machine.travel(NOW, tick=False):
            response = login(email)
        assert response.status_code == 302, response.get_data(as_text=True)

    return _sign_in


@pytest.fixture
def read(client):
    """`read(tenant, name, who="owner", **args)`: GET /api/v1/reports/<name> at NOW."""

    def _read(tenant, name: str, who: str = "owner", expect: int = 200, **args):
        args = {key.rstrip("_"): value for key, value in args.items()}
        with time_machine.travel(NOW, tick=False):
            response = client.get(f"/api/v1/reports/{name}", query_string=args,
                                  headers=tenant.headers[who])
        assert response.status_code == expect, response.json
        return response.json

    return _read
