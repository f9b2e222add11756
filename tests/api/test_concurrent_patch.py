"""Concurrent PATCHes of one ticket over real HTTP and real transactions: none is lost.

Both requests read the ticket and then write it; without the row lock the later commit would
overwrite the earlier one's tags. These tests commit for real (the live server's clean-up).
"""

import json
import threading
import urllib.request

from sqlalchemy import select

from helpdesk.core import tenancy
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket


def patch(url: str, token: str, body: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PATCH",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.status


def at_once(url: str, requests: list[tuple[str, dict]]) -> list[int]:
    """Send the PATCHes from separate threads released together; their statuses."""
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = []

    def run(token: str, body: dict) -> None:
        barrier.wait(5)
        statuses.append(patch(url, token, body))

    threads = [threading.Thread(target=run, args=pair) for pair in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return statuses


def test_concurrent_patches_of_different_fields_all_persist(live_server, make_org, make_member,
                                                             make_token):
    org = make_org()
    token = make_token(org, org.owner_id)
    # Two people with their own tokens (one token's last_used_at would serialize the requests).
    tokens = [token, make_token(org, make_member(org).id)]
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/tickets", method="POST",
        data=json.dumps({"subject": "Race", "body": "b", "customer_email": "r@example.com"})
        .encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        number = json.load(response)["number"]
    url = f"{live_server.url}/api/v1/tickets/{number}"
    rounds = 6
    for n in range(rounds):
        statuses = at_once(url, [(tokens[0], {"add_tags": [f"left-{n}"], "priority": "high"}),
                                 (tokens[1], {"add_tags": [f"right-{n}"], "subject": f"Race {n}"})])
        assert statuses == [200, 200]
    with live_server.app.app_context():
        tenancy.set_current_org(org.id)
        ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
        expected = {f"{side}-{n}" for n in range(rounds) for side in ("left", "right")}
        assert set(ticket.tags) == expected
        assert ticket.priority.value == "high" and ticket.subject == f"Race {rounds - 1}"
        db.session.rollback()
