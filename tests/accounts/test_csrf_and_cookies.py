import re

import pytest

from tests.conftest import close_app, make_test_app


@pytest.fixture
def csrf_app(migrated, server_urls, tmp_path):
    app = make_test_app(migrated, server_urls[1], tmp_path, WTF_CSRF_ENABLED=True,
                        PUBLIC_URL="https://desk.example.com", SESSION_COOKIE_SECURE=True)
    yield app
    close_app(app)


def test_forms_without_csrf_token_are_rejected(csrf_app):
    client = csrf_app.test_client()
    response = client.post("/login", data={"email": "a@b.test", "password": "whatever1"})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)


def test_forms_with_csrf_token_are_accepted(csrf_app):
    client = csrf_app.test_client()
    https = "https://desk.example.com"  # the session cookie is Secure
    page = client.get("/login", base_url=https).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", base_url=https, headers={"Referer": https + "/login"}, data={
        "email": "a@b.test", "password": "whatever1", "csrf_token": token})
    assert response.status_code == 401  # CSRF passed; the credentials are just wrong


def test_session_cookie_is_secure_httponly_lax(csrf_app):
    client = csrf_app.test_client()
    response = client.get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Strict-Transport-Security" in response.headers
