"""The CLI of docs/ARCHITECTURE.md, run through Flask's CLI runner against the real database."""

import pytest
from sqlalchemy import select

from helpdesk.orgs.models import Membership, Organization


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def _run(*args):
        return runner.invoke(args=list(args), catch_exceptions=False)

    return _run


def test_org_create_user_create_and_token_create(cli, client, as_system):
    result = cli("org", "create", "cli-shop", "--name", "CLI Shop", "--owner-email",
                 "boss@cli.test", "--owner-password", "boss-password", "--plan", "growing")
    assert result.exit_code == 0, result.output
    result = cli("user", "create", "--org", "cli-shop", "--email", "agent@cli.test",
                 "--password", "agent-password", "--role", "agent")
    assert result.exit_code == 0, result.output
    result = cli("token", "create", "--org", "cli-shop", "--email", "agent@cli.test")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json["user"]["email"] == "agent@cli.test"
    with as_system() as session:
        org = session.scalar(select(Organization).where(Organization.slug == "cli-shop"))
        assert org.plan == "growing"
        roles = {m.user.email: m.role.value for m in
                 session.scalars(select(Membership).where(Membership.org_id == org.id))}
        assert roles == {"boss@cli.test": "owner", "agent@cli.test": "agent"}


def test_cli_errors_are_clear_and_write_nothing(cli, make_org, as_system):
    org = make_org()
    result = cli("org", "create", org.slug, "--name", "Dup", "--owner-email", "x@cli.test",
                 "--owner-password", "password-1")
    assert result.exit_code == 1 and "already taken" in result.output
    result = cli("user", "create", "--org", "missing", "--email", "y@cli.test",
                 "--password", "password-1")
    assert result.exit_code == 1 and "No organization" in result.output
    result = cli("token", "create", "--org", org.slug, "--email", "stranger@cli.test")
    assert result.exit_code == 1 and "not a member" in result.output
    with as_system() as session:
        from helpdesk.accounts.models import User

        assert session.scalar(select(User).where(User.email == "x@cli.test")) is None


def test_user_create_respects_the_agent_limit(cli, make_org, make_member):
    org = make_org()
    make_member(org)
    make_member(org)
    result = cli("user", "create", "--org", org.slug, "--email", "fourth@cli.test",
                 "--password", "password-1")
    assert result.exit_code == 1 and "includes 3 agents" in result.output


def test_demo_seed_has_tickets_across_statuses(cli, as_system):
    from sqlalchemy import func

    from helpdesk.tickets.models import Ticket

    cli("demo", "seed")
    with as_system() as session:
        by_status = dict(session.execute(
            select(Ticket.status, func.count()).group_by(Ticket.status)).all())
        assigned = session.scalar(select(func.count()).where(Ticket.assignee_id.is_not(None)))
    assert sum(by_status.values()) == 300
    assert all(by_status.get(s, 0) > 10 for s in ("new", "open", "pending", "solved", "closed")
               if s != "open") and len(by_status) >= 4
    assert 100 < assigned < 300


def test_demo_seed_is_idempotent(cli, client):
    result = cli("demo", "seed")
    assert result.exit_code == 0 and "Demo tenant created." in result.output
    assert "owner@demo.example / demo-password" in result.output
    assert "already exists" in cli("demo", "seed").output
    response = client.post("/login", data={"email": "agent@demo.example",
                                           "password": "demo-password"})
    assert response.headers["Location"] == "/demo/desk/"
    html = client.get("/demo/desk/").get_data(as_text=True)
    # The desk home is the inbox: the agent's own open tickets (the demo assigns some).
    assert html.count('data-testid="ticket-row"') > 0 and "Welcome, Sam Carter" in html


def test_worker_burst_runs_queued_jobs(cli, app, smtp):
    from helpdesk.core.jobs import get_queue
    from helpdesk.core.mail import deliver_mail

    with app.app_context():
        get_queue("notify").enqueue(deliver_mail, "someone@example.com", "Hello", "Body text")
    result = cli("worker", "--burst")
    assert result.exit_code == 0, result.output
    [mail] = smtp.wait_for(1)
    assert mail["Subject"] == "Hello" and mail.get_content().strip() == "Body text"


def test_cli_rejects_invalid_emails(cli, make_org):
    result = cli("org", "create", "newco", "--name", "N", "--owner-email", "not-an-email",
                 "--owner-password", "password-1")
    assert result.exit_code == 1 and "email" in result.output
    org = make_org()
    result = cli("user", "create", "--org", org.slug, "--email", "bad email",
                 "--password", "password-1")
    assert result.exit_code == 1 and "email" in result.output


def test_seat_count_is_per_org_in_the_cli(cli, make_org, make_member):
    crowded, quiet = make_org(), make_org()
    make_member(crowded)
    make_member(crowded)
    result = cli("user", "create", "--org", quiet.slug, "--email", "sam@cli.test",
                 "--password", "password-1")
    assert result.exit_code == 0, result.output


def test_worker_rejects_unknown_queue_cleanly(app):
    result = app.test_cli_runner().invoke(args=["worker", "--burst", "--queue", "bogus"])
    assert result.exit_code == 2 and "bogus" in result.output and "Traceback" not in result.output
