from sqlalchemy import select

from helpdesk.api.models import ApiToken


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_me_with_a_valid_token(client, make_org, make_token):
    org = make_org()
    token = make_token(org, org.owner_id)
    response = client.get("/api/v1/me", headers=auth(token))
    assert response.status_code == 200
    assert response.json["org"]["slug"] == org.slug
    assert response.json["role"] == "owner"


def test_missing_malformed_wrong_and_revoked_tokens_are_401(client, make_org, make_token,
                                                            in_org):
    org = make_org()
    token = make_token(org, org.owner_id)
    cases = [
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
        auth("not-a-token"),
        auth(token[:-4] + "AAAA"),
        auth(f"hd_{org.id + 999}_" + "A" * 43),
    ]
    for headers in cases:
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.json["error"]["code"] == "unauthorized"
    with in_org(org.id) as session:
        session.scalar(select(ApiToken)).revoked_at = session.scalar(select(ApiToken)).created_at
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401


def test_token_is_stored_hashed(make_org, make_token, in_org):
    org = make_org()
    token = make_token(org, org.owner_id)
    with in_org(org.id) as session:
        stored = session.scalar(select(ApiToken))
        assert token not in (stored.token_hash, stored.display_prefix)
        assert len(stored.token_hash) == 64 and token.startswith(stored.display_prefix)


def test_token_of_org_a_cannot_be_replayed_as_org_b(client, make_org, make_token):
    """Rewriting the org id inside a token does not move it to another org."""
    a, b = make_org(), make_org()
    token = make_token(a, a.owner_id)
    forged = token.replace(f"hd_{a.id}_", f"hd_{b.id}_", 1)
    assert client.get("/api/v1/me", headers=auth(forged)).status_code == 401


def test_create_and_read_customer(client, make_org, make_token):
    org = make_org()
    headers = auth(make_token(org, org.owner_id))
    response = client.post("/api/v1/customers", headers=headers,
                           json={"email": "Jane@Example.com", "name": "Jane"})
    assert response.status_code == 201
    customer = response.json
    assert customer["email"] == "jane@example.com"
    again = client.get(response.headers["Location"], headers=headers)
    assert again.status_code == 200 and again.json == customer


def test_bad_json_gets_400_and_bad_fields_422_with_messages(client, make_org, make_token):
    org = make_org()
    headers = auth(make_token(org, org.owner_id))
    response = client.post("/api/v1/customers", headers=headers, data="{not json",
                           content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"
    response = client.post("/api/v1/customers", headers=headers, json=["a", "list"])
    assert response.status_code == 400
    response = client.post("/api/v1/customers", headers=headers,
                           json={"email": "nope", "name": 42, "phone": "1" * 51})
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert set(fields) == {"email", "name", "phone"}
    response = client.post("/api/v1/customers", headers=headers, json={"name": "\x00"})
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"email", "name"}


def test_duplicate_customer_email_is_409(client, make_org, make_token):
    org = make_org()
    headers = auth(make_token(org, org.owner_id))
    client.post("/api/v1/customers", headers=headers, json={"email": "dup@example.com"})
    response = client.post("/api/v1/customers", headers=headers, json={"email": "dup@example.com"})
    assert response.status_code == 409
    assert "already exists" in response.json["error"]["fields"]["email"]


def test_another_orgs_customer_is_404_through_the_api(client, make_org, make_token,
                                                      make_customer):
    a, b = make_org(), make_org()
    theirs = make_customer(b, "same@example.com")
    mine = make_customer(a, "same@example.com")
    headers = auth(make_token(a, a.owner_id))
    assert client.get(f"/api/v1/customers/{mine.id}", headers=headers).status_code == 200
    response = client.get(f"/api/v1/customers/{theirs.id}", headers=headers)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_same_email_in_two_orgs_is_allowed(client, make_org, make_token, make_customer):
    a, b = make_org(), make_org()
    make_customer(b, "shared@example.com")
    response = client.post("/api/v1/customers", headers=auth(make_token(a, a.owner_id)),
                           json={"email": "shared@example.com"})
    assert response.status_code == 201


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_token_page_shows_the_token_once(client, make_org, login):
    org = make_org()
    login(org.owner_email)
    html = client.post(f"/{org.slug}/desk/settings/tokens", data={"name": "Zapier"}) \
        .get_data(as_text=True)
    import re

    token = re.search(r'data-testid="new-token">([^<]+)<', html).group(1)
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200
    assert token not in client.get(f"/{org.slug}/desk/settings/tokens").get_data(as_text=True)
