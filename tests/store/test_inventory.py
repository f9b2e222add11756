"""Stock: reservations with a time limit, sales, restocks, adjustments, the database's own
refusal to oversell, low-stock alerts and the expiry job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from helpdesk.core.exceptions import Conflict, NotFound, ValidationFailed
from helpdesk.core.models import utcnow
from helpdesk.tickets.models import Notification
from storefront import inventory, jobs
from storefront.models import MovementKind, Reservation, StockLevel, StockMovement


def test_reserve_holds_units_and_refuses_beyond_what_is_left(make_org, make_product, in_org,
                                                             stock_of):
    org = make_org()
    product = make_product(org, stock=5)
    with in_org(org.id):
        reservation = inventory.reserve(product.variant_id, 3, "checkout-a")
        assert reservation.expires_at - utcnow() > timedelta(minutes=14)
        assert inventory.available(product.variant_id) == 2
    with in_org(org.id), pytest.raises(inventory.OutOfStock) as refused:
        inventory.reserve(product.variant_id, 3, "checkout-b")
    assert refused.value.status == 409 and refused.value.available == 2
    assert refused.value.message == "Only 2 left."
    assert stock_of(org, product.variant_id) == (5, 3)


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", True, 10**9])
def test_reserve_refuses_quantities_that_are_not_positive_whole_numbers(
        make_org, make_product, in_org, stock_of, quantity):
    org = make_org()
    product = make_product(org, stock=5)
    with in_org(org.id), pytest.raises(ValidationFailed) as refused:
        inventory.reserve(product.variant_id, quantity, "k")
    assert "quantity" in refused.value.fields and refused.value.status == 422
    assert stock_of(org, product.variant_id) == (5, 0)


def test_release_gives_back_once(make_org, make_product, in_org, stock_of):
    org = make_org()
    product = make_product(org, stock=5)
    with in_org(org.id):
        inventory.reserve(product.variant_id, 2, "k")
        inventory.reserve(product.variant_id, 1, "k")
    with in_org(org.id):
        assert inventory.release("k") == 3
        assert inventory.release("k") == 0  # twice: nothing more
    assert stock_of(org, product.variant_id) == (5, 0)


def test_commit_sells_reserved_units_once(make_org, make_product, in_org, stock_of):
    org = make_org()
    product = make_product(org, stock=5)
    with in_org(org.id):
        inventory.reserve(product.variant_id, 2, "k")
    with in_org(org.id) as session:
        assert len(inventory.commit("k", 77)) == 1
        assert inventory.commit("k", 77) == []  # a retried webhook changes nothing
        sales = session.scalars(select(StockMovement).where(
            StockMovement.kind == MovementKind.SALE)).all()
        assert [(m.quantity, m.order_id) for m in sales] == [(-2, 77)]
    assert stock_of(org, product.variant_id) == (3, 0)


def test_an_expired_reservation_cannot_be_paid_for_and_nothing_changes(
        make_org, make_product, in_org, stock_of):
    org = make_org()
    product = make_product(org, stock=5)
    with in_org(org.id):
        inventory.reserve(product.variant_id, 2, "late", ttl=timedelta(seconds=-1))
    with in_org(org.id), pytest.raises(inventory.ReservationExpired) as refused:
        inventory.commit("late", 1)
    assert refused.value.status == 409 and "expired" in refused.value.message
    assert stock_of(org, product.variant_id) == (5, 2)  # still held until the job runs
    with in_org(org.id), pytest.raises(Conflict):
        inventory.commit("never-reserved", 1)


def test_reserving_releases_expired_holds_of_the_variant_first(make_org, make_product, in_org,
                                                               stock_of):
    org = make_org()
    product = make_product(org, stock=2)
    with in_org(org.id):
        inventory.reserve(product.variant_id, 2, "abandoned", ttl=timedelta(seconds=-1))
    with in_org(org.id):
        inventory.reserve(product.variant_id, 2, "fresh")
    assert stock_of(org, product.variant_id) == (2, 2)
    with in_org(org.id) as session:
        released = session.scalar(select(Reservation.released_at)
                                  .where(Reservation.checkout_key == "abandoned"))
        assert released is not None


def test_the_expiry_job_releases_only_what_ran_out_and_is_safe_twice(
        make_org, make_product, in_org, stock_of, app, run_jobs):
    org, other = make_org(), make_org()
    product, theirs = make_product(org, stock=5), make_product(other, stock=5)
    with in_org(org.id):
        inventory.reserve(product.variant_id, 2, "old", ttl=timedelta(seconds=-5))
        inventory.reserve(product.variant_id, 1, "new")
    with in_org(other.id):
        inventory.reserve(theirs.variant_id, 4, "theirs", ttl=timedelta(seconds=-5))
    with app.app_context():
        assert jobs.enqueue_expired_releases() == 2
    run_jobs()
    with app.app_context():
        assert jobs.enqueue_expired_releases() == 0
        assert jobs.release_expired_reservations(org.id) == 0  # run twice: nothing more
    assert stock_of(org, product.variant_id) == (5, 1)
    assert stock_of(other, theirs.variant_id) == (5, 0)


def test_the_scheduler_enqueues_one_job_per_org_with_expired_holds(make_org, make_product,
                                                                   in_org, app, redis_client):
    from helpdesk.core.jobs import get_queue
    from worker import tasks  # noqa: F401  (registers the periodic tasks)
    from worker.scheduler import TASKS

    assert "shop_reservation_expiry" in TASKS
    org = make_org()
    product = make_product(org, stock=5)
    with in_org(org.id):
        inventory.reserve(product.variant_id, 1, "old", ttl=timedelta(seconds=-5))
    with app.app_context():
        assert jobs.enqueue_expired_releases() == 1
        assert jobs.enqueue_expired_releases() == 0  # one already waits
        queued = get_queue("default").jobs
        assert [(j.func_name, j.args) for j in queued] == [
            ("storefront.jobs.release_expired_reservations", (org.id,))]


def test_the_database_refuses_negative_stock_and_overbooking(make_org, make_product, in_org):
    org = make_org()
    product = make_product(org, stock=1)
    for values in ({"on_hand": -1}, {"reserved": 2}, {"reserved": -1}):
        with pytest.raises(IntegrityError, match="ck_shop_stock"), in_org(org.id) as session:
            session.execute(update(StockLevel).where(StockLevel.variant_id == product.variant_id)
                            .values(**values))
    with pytest.raises(IntegrityError), in_org(org.id) as session:
        session.execute(text("UPDATE shop_stock_levels SET on_hand = on_hand - 5"))


def test_adjust_receives_and_corrects_but_not_below_what_is_held(make_org, make_product, in_org,
                                                                 stock_of):
    org, other = make_org(), make_org()
    product, theirs = make_product(org, stock=3), make_product(other, stock=3)
    with in_org(org.id):
        assert inventory.adjust(product.variant_id, 4, "receipt", "delivery", org.owner_id) == 7
        inventory.reserve(product.variant_id, 5, "k")
    with in_org(org.id), pytest.raises(ValidationFailed) as refused:
        inventory.adjust(product.variant_id, -3, "adjustment", "broken", org.owner_id)
    assert "5 of them held by open checkouts" in refused.value.message
    with in_org(org.id), pytest.raises(NotFound):
        inventory.adjust(theirs.variant_id, 10)
    assert stock_of(org, product.variant_id) == (7, 5)
    assert stock_of(other, theirs.variant_id) == (3, 0)


def test_another_orgs_variant_cannot_be_reserved(make_org, make_product, in_org, stock_of):
    org, other = make_org(), make_org()
    theirs = make_product(other, stock=3)
    with in_org(org.id), pytest.raises(inventory.OutOfStock):
        inventory.reserve(theirs.variant_id, 1, "k")
    assert stock_of(other, theirs.variant_id) == (3, 0)


def _notifications(in_org, org):
    with in_org(org.id) as session:
        return session.execute(select(Notification.user_id, Notification.kind, Notification.text)
                               .order_by(Notification.id)).all()


def _sell(in_org, org, variant_id, quantity, key):
    with in_org(org.id):
        inventory.reserve(variant_id, quantity, key)
        inventory.commit(key, 1)


def test_low_stock_alerts_managers_once_until_restocked(make_org, make_member, make_product,
                                                        in_org):
    org = make_org()
    manager = make_member(org, "manager")
    make_member(org, "agent")
    product = make_product(org, stock=5, low_stock_threshold=2, name="Blue mug")
    _sell(in_org, org, product.variant_id, 2, "a")
    assert _notifications(in_org, org) == []
    _sell(in_org, org, product.variant_id, 1, "b")  # 2 left: at the threshold
    _sell(in_org, org, product.variant_id, 1, "c")  # 1 left: alerted already
    alerts = _notifications(in_org, org)
    assert [(user, kind) for user, kind, _ in alerts] == [(manager.id, "low_stock")]
    assert alerts[0][2] == f"Low stock: Blue mug ({product.sku}) is down to 2 (alert at 2)."
    with in_org(org.id):
        inventory.adjust(product.variant_id, 5, "receipt")  # 6: above the threshold again
    _sell(in_org, org, product.variant_id, 6, "d")
    assert len(_notifications(in_org, org)) == 2
    assert "is sold out" in _notifications(in_org, org)[1][2]


def test_low_stock_alerts_go_to_the_owner_when_there_are_no_managers(make_org, make_product,
                                                                     in_org):
    org = make_org()
    product = make_product(org, stock=1)
    _sell(in_org, org, product.variant_id, 1, "a")
    assert [(user, kind) for user, kind, _ in _notifications(in_org, org)] == [
        (org.owner_id, "low_stock")]
