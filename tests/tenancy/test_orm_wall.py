"""Wall one: the ORM scopes every statement to the current org and fails closed."""

import pytest
from sqlalchemy import delete, func, select, update

from helpdesk.core import tenancy
from helpdesk.customers.models import Customer
from helpdesk.orgs.models import Membership, Organization


@pytest.fixture
def two_orgs(make_org, make_customer):
    a, b = make_org("alpha"), make_org("beta")
    ca = make_customer(a, "same@example.com", name="Alpha's customer")
    cb = make_customer(b, "same@example.com", name="Beta's customer")
    return a, b, ca, cb


def test_select_sees_only_the_current_org(two_orgs, in_org):
    a, b, ca, cb = two_orgs
    with in_org(a.id) as session:
        names = session.scalars(select(Customer.name)).all()
        assert names == ["Alpha's customer"]
        assert session.scalar(select(func.count()).select_from(Customer)) == 1


def test_get_by_id_of_another_org_is_none(two_orgs, in_org):
    a, b, ca, cb = two_orgs
    with in_org(a.id) as session:
        assert session.get(Customer, cb.id) is None
        assert session.get(Customer, ca.id).name == "Alpha's customer"


def test_relationship_loads_are_scoped(two_orgs, in_org):
    """A lazy load of a tenant collection from a global row only yields the current org's."""
    a, b, *_ = two_orgs
    with in_org(a.id) as session:
        own = session.get(Organization, a.id)
        other = session.get(Organization, b.id)  # organizations are global
        assert [m.user_id for m in own.memberships] == [a.owner_id]
        assert other.memberships == []


def test_eager_loads_are_scoped(two_orgs, in_org):
    from sqlalchemy.orm import selectinload

    a, b, *_ = two_orgs
    with in_org(a.id) as session:
        orgs = session.scalars(
            select(Organization).where(Organization.id.in_([a.id, b.id]))
            .options(selectinload(Organization.memberships))
        ).all()
        by_id = {org.id: org for org in orgs}
        assert len(by_id[a.id].memberships) == 1
        assert by_id[b.id].memberships == []


def test_lazy_load_of_related_row_in_other_org_is_blocked(two_orgs, in_org, make_member):
    a, b, *_ = two_orgs
    with in_org(a.id) as session:
        membership = session.scalar(select(Membership))
        # Many-to-one lazy load to a global table works...
        assert membership.user.email == a.owner_email
        # ...and a lazy load of a tenant row is scoped: the organization relation is global,
        # but its memberships would be filtered (checked through an explicit join load).
        joined = session.scalars(
            select(Organization).join(Membership, Membership.org_id == Organization.id)
        ).all()
        assert [org.id for org in joined] == [a.id]


def test_bulk_update_and_delete_touch_only_the_current_org(two_orgs, in_org):
    a, b, ca, cb = two_orgs
    with in_org(a.id) as session:
        result = session.execute(update(Customer).values(company="Renamed"))
        assert result.rowcount == 1
        result = session.execute(delete(Customer).where(Customer.email == "same@example.com"))
        assert result.rowcount == 1
    with in_org(b.id) as session:
        customer = session.get(Customer, cb.id)
        assert customer is not None and customer.company == ""


def test_query_without_org_fails_closed(two_orgs, in_org):
    with in_org(None) as session:
        with pytest.raises(tenancy.OrgNotSet):
            session.scalars(select(Customer)).all()
        session.rollback()


def test_global_tables_need_no_org(two_orgs, in_org):
    with in_org(None) as session:
        assert session.scalar(select(Organization).where(Organization.slug == "beta")).id


def test_writing_a_row_into_another_org_is_refused(two_orgs, in_org):
    a, b, *_ = two_orgs
    with in_org(a.id) as session:
        session.add(Customer(org_id=b.id, email="intruder@example.com"))
        with pytest.raises(tenancy.CrossOrgWrite):
            session.flush()
        session.rollback()


def test_new_rows_default_to_the_current_org(two_orgs, in_org):
    a, *_ = two_orgs
    with in_org(a.id) as session:
        customer = Customer(email="fresh@example.com")
        session.add(customer)
        session.flush()
        assert customer.org_id == a.id


def test_all_orgs_option_only_lifts_the_orm_wall(two_orgs, in_org):
    """The explicit per-statement opt-out still runs under RLS: no org set, nothing visible."""
    a, *_ = two_orgs
    with in_org(None) as session:
        rows = session.scalars(
            select(Customer).execution_options(**{tenancy.ALL_ORGS: True})
        ).all()
        assert rows == []


def test_system_scope_sees_every_org(two_orgs, as_system):
    with as_system() as session:
        emails = session.scalars(select(Customer.org_id)).all()
        assert len(emails) == 2
