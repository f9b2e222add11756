"""Jobs: enqueued only after commit, take ids, run with their org set, commit once."""

import pytest
from sqlalchemy import select

from helpdesk.core import tenancy
from helpdesk.core.jobs import enqueue_after_commit, get_queue, org_job
from helpdesk.customers.models import Customer
from helpdesk.extensions import db


@org_job
def rename_customer(org_id, customer_id, name):
    """A job as real ones are written: ids in, work under the org, no commit of its own."""
    customer = db.session.get(Customer, customer_id)
    if customer is None:  # another org's id, or deleted since: nothing to do
        return None
    customer.name = name
    return tenancy.current_org_id()


@org_job
def failing_job(org_id, customer_id):
    db.session.get(Customer, customer_id).name = "half-written"
    db.session.flush()
    raise RuntimeError("boom")


def queued(app, name="default"):
    with app.app_context():
        return get_queue(name).count


def test_jobs_are_enqueued_only_after_commit(app, in_org, make_org, make_customer):
    org = make_org()
    customer = make_customer(org)
    with in_org(org.id) as session:
        enqueue_after_commit(rename_customer, org.id, customer.id, "Renamed")
        assert queued(app) == 0
        session.commit()
    assert queued(app) == 1


def test_jobs_are_dropped_on_rollback(app, in_org, make_org, make_customer):
    org = make_org()
    customer = make_customer(org)
    with in_org(org.id) as session:
        enqueue_after_commit(rename_customer, org.id, customer.id, "Renamed")
        session.rollback()
    assert queued(app) == 0


def test_org_job_runs_with_its_org_and_commits(app, make_org, make_customer, run_jobs, in_org):
    org = make_org()
    customer = make_customer(org)
    with app.app_context():
        job = get_queue("default").enqueue(rename_customer, org.id, customer.id, "Renamed")
    run_jobs()
    job.refresh()
    assert job.is_finished and job.return_value() == org.id
    with in_org(org.id) as session:
        assert session.get(Customer, customer.id).name == "Renamed"


def test_org_job_cannot_touch_another_orgs_rows(app, make_org, make_customer, run_jobs, in_org):
    a, b = make_org(), make_org()
    theirs = make_customer(b)
    with app.app_context():
        job = get_queue("default").enqueue(rename_customer, a.id, theirs.id, "Hijacked")
    run_jobs()
    job.refresh()
    assert job.is_finished and job.return_value() is None
    with in_org(b.id) as session:
        assert session.get(Customer, theirs.id).name != "Hijacked"


def test_failed_job_leaves_nothing_half_written(app, make_org, make_customer, run_jobs, in_org):
    org = make_org()
    customer = make_customer(org, name="Original")
    with app.app_context():
        job = get_queue("default").enqueue(failing_job, org.id, customer.id)
    run_jobs()
    job.refresh()
    assert job.is_failed
    with in_org(org.id) as session:
        assert session.scalar(select(Customer.name).where(Customer.id == customer.id)) \
            == "Original"


def test_org_jobs_refuse_objects(app):
    with pytest.raises(TypeError), app.app_context():
        rename_customer(Customer(), 1, "x")


def test_unknown_queue_name_is_refused(app):
    with app.app_context(), pytest.raises(ValueError):
        enqueue_after_commit(rename_customer, 1, 2, "x", queue="nope")


def test_scheduler_runs_due_tasks_once_per_interval(app, redis_client):
    from worker import scheduler

    calls = []
    scheduler.TASKS["probe"] = scheduler.PeriodicTask("probe", 60, lambda: calls.append(1))
    try:
        with app.app_context():
            assert "probe" in scheduler.run_due_tasks(now=1000.0)
            assert "probe" not in scheduler.run_due_tasks(now=1030.0)
            assert "probe" in scheduler.run_due_tasks(now=1061.0)
    finally:
        del scheduler.TASKS["probe"]
    assert calls == [1, 1]


def test_only_one_scheduler_holds_the_lock(app, redis_client):
    from worker import scheduler

    with app.app_context():
        other = redis_client.lock(scheduler.LOCK_KEY, timeout=30)
        assert other.acquire(blocking=False)
        scheduler.run_scheduler(once=True)  # returns without running anything
        assert not redis_client.keys("scheduler:last:*")
        other.release()
        scheduler.run_scheduler(once=True)
        assert redis_client.keys("scheduler:last:*")
