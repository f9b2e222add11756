"""The OpenAPI document is generated from the code, valid, complete, and matches responses."""

import re

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

OPERATIONS = {
    "/api/v1/me": {"get"},
    "/api/v1/tickets": {"get", "post"},
    "/api/v1/tickets/{number}": {"get", "patch"},
    "/api/v1/tickets/{number}/messages": {"get", "post"},
    "/api/v1/attachments/{attachment_id}": {"get"},
    "/api/v1/customers": {"get", "post"},
    "/api/v1/customers/{customer_id}": {"get"},
    "/api/v1/tags": {"get"},
    "/api/v1/search": {"get"},
    "/api/v1/reports/{name}": {"get"},
    "/api/v1/store/orders": {"post"},
    "/api/v1/store/orders/{order_id}": {"get", "patch"},
    "/api/v1/store/products": {"get", "post"},
    "/api/v1/store/products/{product_id}": {"get", "patch"},
}


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")  # public: no token needed
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.json


def test_document_is_valid_openapi_3(spec):
    assert re.fullmatch(r"3\.\d+\.\d+", spec["openapi"])
    validate(spec)  # raises with the reason if the document breaks the OpenAPI schema


def test_document_lists_every_operation_of_the_api(spec, app):
    assert {path: set(ops) for path, ops in spec["paths"].items()} == OPERATIONS
    # ...which are exactly the API's routes (bar the document and the docs page).
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")}
    assert routes - set(OPERATIONS) == {"/api/v1/openapi.json", "/api/v1/docs"}


def test_operations_declare_security_parameters_and_errors(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"bearerAuth": []}], (path, method)
            assert "401" in operation["responses"]
            for name in re.findall(r"{(\w+)}", path):
                assert {"name": name, "in": "path"}.items() <= next(
                    p for p in operation["parameters"] if p.get("name") == name).items()
                assert "404" in operation["responses"]
    patch = spec["paths"]["/api/v1/tickets/{number}"]["patch"]
    assert {"409", "422", "400"} <= set(patch["responses"])
    listing = spec["paths"]["/api/v1/tickets"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "status", "priority", "assignee", "tag", "customer", "q", "limit", "cursor"}
    create = spec["components"]["schemas"]["TicketCreate"]
    assert {"subject", "customer_email"} <= set(create["required"])
    assert create["additionalProperties"] is False


def conforms(spec: dict, schema_name: str, instance) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    errors = [e.message for e in OAS31Validator(schema).iter_errors(instance)]
    assert errors == [], (schema_name, errors)


def test_real_responses_match_their_documented_schemas(client, spec, api_org, new_ticket,
                                                       attach):
    tenant = api_org()
    created = new_ticket(tenant, tags=["x"])
    conforms(spec, "CreatedTicket", created)
    attach(tenant, 1, "a.txt", b"hi", "text/plain")
    client.patch("/api/v1/tickets/1", headers=tenant.headers, json={"status": "open"})
    get = lambda path: client.get(path, headers=tenant.headers).json  # noqa: E731
    conforms(spec, "Ticket", get("/api/v1/tickets/1"))
    conforms(spec, "TicketPage", get("/api/v1/tickets?limit=1"))
    conforms(spec, "Thread", get("/api/v1/tickets/1/messages"))
    conforms(spec, "Customer", get(f"/api/v1/customers/{created['customer']['id']}"))
    conforms(spec, "TagList", get("/api/v1/tags"))
    conforms(spec, "Me", get("/api/v1/me"))
    conforms(spec, "Error", get("/api/v1/tickets/99"))
    conforms(spec, "Error", client.patch("/api/v1/tickets/1", headers=tenant.headers,
                                         json={"nope": 1}).json)


def test_docs_page_uses_only_local_assets_under_the_csp(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html)
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {"/static/vendor/swagger-ui/swagger-ui-bundle.js",
            "/static/vendor/swagger-ui/swagger-ui.css", "/static/js/api-docs.js"} <= set(assets)
    for asset in assets:
        with client.get(asset) as served:
            assert served.status_code == 200, asset
    with client.get("/static/js/api-docs.js") as init:
        assert "validatorUrl: null" in init.get_data(as_text=True)
