from types import SimpleNamespace

import pytest


@pytest.fixture
def desk(make_org, make_member, client, login):
    """An org with its owner, an admin and two agents; `desk.as_(person)` signs that one in."""
    org = make_org()
    people = SimpleNamespace(
        org=org,
        owner=SimpleNamespace(id=org.owner_id, email=org.owner_email),
        admin=make_member(org, "admin"),
        agent=make_member(org, "agent"),
        colleague=make_member(org, "agent"),
    )

    def sign_in_as(person):
        client.post("/logout")
        assert login(person.email).status_code == 302

    people.as_ = sign_in_as
    people.url = lambda path="": f"/{org.slug}/desk/settings/{path}"
    return people
