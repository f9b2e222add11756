def test_healthz_reports_both_services(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_healthz_names_redis_when_unreachable(app, client):
    import redis

    real = app.extensions["redis"]
    app.extensions["redis"] = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    try:
        response = client.get("/healthz")
    finally:
        app.extensions["redis"] = real
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["redis"].startswith("unreachable")


def test_security_headers_on_pages(client):
    response = client.get("/login")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_use_no_external_assets(client):
    for path in ("/", "/login", "/signup", "/password/forgot"):
        html = client.get(path).get_data(as_text=True)
        assert "http://" not in html.replace("http://localhost", "")
        assert "https://" not in html
        assert "//cdn" not in html
