"""Concurrent team changes, with real transactions on separate connections.

Two threads read the state, meet at a barrier, then write: without the org lock both checks
would pass. These tests commit for real, so they use the live-server fixture's clean-up.
"""

import threading

from sqlalchemy import func, select

from helpdesk.accounts import services as accounts
from helpdesk.core import tenancy
from helpdesk.core.exceptions import ServiceError
from helpdesk.extensions import db
from helpdesk.orgs import services as orgs
from helpdesk.orgs.models import Membership, Organization, Role


def race(app, org_id, actions):
    """Run each action(session) in its own thread and transaction; returns results/errors."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index, action):
        with app.app_context():
            tenancy.set_current_org(org_id)
            try:
                prepared = action("prepare")
                barrier.wait(5)
                action("act", prepared)
                db.session.commit()
                results[index] = "ok"
            except ServiceError as error:
                db.session.rollback()
                results[index] = error.message

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return results


def setup_org(app, owners: int, plan="starter"):
    with app.app_context(), tenancy.system_scope():
        first = accounts.create_user(email="o0@race.test", name="O0", password="password-1")
        org = orgs.create_org(name="Race", slug="race", owner=first, plan=plan)
        for n in range(1, owners):
            user = accounts.create_user(email=f"o{n}@race.test", name=f"O{n}",
                                        password="password-1")
            db.session.add(Membership(org_id=org.id, user=user, role=Role.OWNER))
        db.session.commit()
        ids = dict(db.session.execute(
            select(Membership.user_id, Membership.id).where(Membership.org_id == org.id)
        ).all())
        return org.id, ids


def test_two_owners_demoting_each_other_leave_one_owner(live_server):
    app = live_server.app
    org_id, ids = setup_org(app, owners=2)
    membership_ids = sorted(ids.values())

    def demote(actor_id, target_id):
        def action(step, prepared=None):
            if step == "prepare":
                return db.session.get(Membership, actor_id), db.session.get(Membership, target_id)
            orgs.change_role(prepared[0], prepared[1], Role.AGENT)
        return action

    results = race(app, org_id, [demote(membership_ids[0], membership_ids[1]),
                                 demote(membership_ids[1], membership_ids[0])])
    assert sorted(results, key=str) == ["An organization needs at least one owner.", "ok"]
    with app.app_context(), tenancy.system_scope():
        owners = db.session.scalar(select(func.count()).where(
            Membership.org_id == org_id, Membership.role == Role.OWNER))
    assert owners == 1


def test_concurrent_invitations_cannot_exceed_the_seats(live_server):
    app = live_server.app
    org_id, ids = setup_org(app, owners=1)  # Starter: 3 seats, 1 used

    def invite(n):
        def action(step, prepared=None):
            if step == "prepare":
                actor = db.session.scalar(select(Membership))
                return actor, db.session.get(Organization, org_id)
            with app.test_request_context():
                tenancy.set_current_org(org_id)
                orgs.invite_member(prepared[0], prepared[1], email=f"n{n}@race.test",
                                   role=Role.AGENT)
        return action

    results = race(app, org_id, [invite(n) for n in range(5)])
    assert results.count("ok") == 2
    with app.app_context():
        tenancy.set_current_org(org_id)
        org = db.session.get(Organization, org_id)
        assert orgs.seats_used(org) == 3
