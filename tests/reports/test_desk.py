"""The desk's report pages and CSV exports: managers and up only, the same figures as the API,
form errors as a 422 page, unknown names as 404 pages, and the OpenAPI document's shape."""

import csv
import io
import re

import time_machine
from openapi_schema_validator import OAS31Validator

from tests.reports.conftest import NOW
from tests.reports.test_volume import WEEK

WEEK_ARGS = {"from": WEEK["from_"], "to": WEEK["to"]}


def page(client, path, **args):
    with time_machine.travel(NOW, tick=False):
        return client.get(path, query_string=args)


def rows_of(response):
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_managers_get_the_index_and_the_nav_link_agents_a_403(history, client, sign_in):
    sign_in(history.mia.email)
    response = page(client, "/acme/desk/reports")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in ("volume", "first-response", "resolution", "sla", "agents", "csat"):
        assert f'href="/acme/desk/reports/{name}"' in html
    assert 'href="/acme/desk/reports" aria-current="page">Reports</a>' in html
    with time_machine.travel(NOW, tick=False):
        client.post("/logout")
    sign_in(history.ada.email)
    inbox = page(client, "/acme/desk/tickets/").get_data(as_text=True)
    assert "/acme/desk/reports" not in inbox  # no link for agents
    for path in ("/acme/desk/reports", "/acme/desk/reports/volume",
                 "/acme/desk/reports/volume.csv"):
        response = page(client, path)
        assert response.status_code == 403
        assert "needs the manager role" in response.get_data(as_text=True)


def test_report_page_shows_the_chart_data_and_the_table(history, client, sign_in, read):
    sign_in(history.org.owner_email)
    response = page(client, "/acme/desk/reports/volume", **WEEK_ARGS, by="tag")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="report-chart"' in html and "vendor/chartjs/chart.umd.js" in html
    assert "/static/js/reports.js" in html and "/static/css/reports.css" in html
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html)  # no CDN
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html,
                     re.S).group(1)
    import json

    assert json.loads(data) == read(history, "volume", **WEEK, by="tag")
    table = re.search(r'<table class="report-table" data-testid="report-table">(.*?)</table>',
                      html, re.S).group(1)
    cells = [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                           row, re.S)]
             for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
    assert cells[1:] == [  # period, created, solved, reopened, backlog
        ["2026-11-02", "2", "0", "0", "4"], ["2026-11-03", "1", "0", "1", "5"],
        ["2026-11-04", "0", "1", "0", "4"], ["2026-11-05", "1", "1", "0", "4"],
        ["2026-11-06", "0", "0", "0", "4"], ["2026-11-07", "1", "0", "0", "5"],
        ["2026-11-08", "0", "0", "0", "5"]]
    assert 'data-testid="breakdown-table"' in html and "(no tag)" in html
    # The CSV link carries the same parameters.
    assert ('href="/acme/desk/reports/volume.csv?from=2026-11-02&amp;to=2026-11-08&amp;'
            'interval=day&amp;by=tag"') in html
    # Every report renders; csat shows its empty state without a chart.
    for name in ("first-response", "resolution", "sla", "agents"):
        html = page(client, f"/acme/desk/reports/{name}", **WEEK_ARGS).get_data(as_text=True)
        assert 'id="report-chart"' in html and 'data-testid="report-table"' in html, name
    html = page(client, "/acme/desk/reports/csat").get_data(as_text=True)
    assert 'data-testid="csat-empty"' in html and "customer portal" in html
    assert 'id="report-chart"' not in html and "chart.umd.js" not in html


def test_csv_exports_hold_the_tables_rows(history, client, sign_in):
    sign_in(history.mia.email)
    response = page(client, "/acme/desk/reports/volume.csv", **WEEK_ARGS)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="volume-2026-11-02-2026-11-08.csv"')
    assert rows_of(response) == [
        ["period", "created", "solved", "reopened", "backlog"],
        ["2026-11-02", "2", "0", "0", "4"], ["2026-11-03", "1", "0", "1", "5"],
        ["2026-11-04", "0", "1", "0", "4"], ["2026-11-05", "1", "1", "0", "4"],
        ["2026-11-06", "0", "0", "0", "4"], ["2026-11-07", "1", "0", "0", "5"],
        ["2026-11-08", "0", "0", "0", "5"]]
    # Filters apply to the export as to the page (Support: see test_volume).
    support = rows_of(page(client, "/acme/desk/reports/volume.csv", **WEEK_ARGS,
                           team=history.support, interval="week"))
    assert support == [["period", "created", "solved", "reopened", "backlog"],
                       ["2026-11-02", "1", "2", "1", "1"]]
    assert rows_of(page(client, "/acme/desk/reports/first-response.csv", **WEEK_ARGS,
                        interval="week")) == [
        ["period", "first_reply_count", "first_reply_median_minutes", "next_reply_count",
         "next_reply_median_minutes"],
        ["2026-11-02", "5", "420.0", "1", "180.0"]]
    assert rows_of(page(client, "/acme/desk/reports/resolution.csv",
                        **{"from": "2026-11-04", "to": "2026-11-05"})) == [
        ["period", "solved", "median_minutes"], ["2026-11-04", "1", "1740.0"],
        ["2026-11-05", "1", "1080.0"]]
    assert rows_of(page(client, "/acme/desk/reports/sla.csv", **WEEK_ARGS)) == [
        ["policy", "target", "achieved", "breached", "achieved_rate"],
        ["All policies", "First reply", "2", "3", "0.4"],
        ["All policies", "Next reply", "1", "0", "1.0"],
        ["All policies", "Resolution", "2", "0", "1.0"],
        ["Normal", "First reply", "2", "2", "0.5"], ["Normal", "Next reply", "1", "0", "1.0"],
        ["Normal", "Resolution", "2", "0", "1.0"],
        ["Urgent", "First reply", "0", "1", "0.0"], ["Urgent", "Next reply", "0", "0", ""],
        ["Urgent", "Resolution", "0", "0", ""]]
    agents = rows_of(page(client, "/acme/desk/reports/agents.csv", **WEEK_ARGS))
    assert agents[:3] == [
        ["agent_id", "name", "tickets_solved", "replies", "first_reply_median_minutes",
         "resolution_median_minutes", "open_load"],
        [str(history.ada.id), "Ada Agent", "2", "4", "420.0", "1410.0", "0"],
        [str(history.ben.id), "Ben Agent", "0", "3", "855.0", "", "3"]]
    assert rows_of(page(client, "/acme/desk/reports/csat.csv")) == [
        ["available", "message"],
        ["false", "Satisfaction surveys arrive with the customer portal; this report fills in "
                  "then."]]


def test_csv_cells_cannot_become_spreadsheet_formulas(make_desk, make_staff, client, sign_in):
    desk = make_desk("formula")
    make_staff(desk.org, "=HYPERLINK(1) Eve", email="eve@formula.test")
    sign_in(desk.mia.email)
    text = page(client, "/formula/desk/reports/agents.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1) Eve" in text and "\n=HYPERLINK" not in text


def test_bad_parameters_unknown_reports_and_other_orgs(history, client, sign_in, make_desk):
    sign_in(history.mia.email)
    response = page(client, "/acme/desk/reports/volume", to="2026-11-01", **{"from": "2026-11-09"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-testid="report-errors"' in html and "Must be on or before" in html
    assert 'aria-invalid="true" aria-describedby="r-from-error"' in html
    assert 'id="report-chart"' not in html
    response = page(client, "/acme/desk/reports/agents", agent="12x")
    assert response.status_code == 422 and 'id="r-agent-error"' in response.get_data(as_text=True)
    response = page(client, "/acme/desk/reports/volume.csv", interval="year")
    assert response.status_code == 422 and "interval" in response.get_data(as_text=True)
    # A stray argument is ignored by the pages (the API refuses it).
    assert page(client, "/acme/desk/reports/volume", utm_source="mail").status_code == 200
    for path in ("/acme/desk/reports/sales", "/acme/desk/reports/inventory.csv",
                 "/acme/desk/reports/nope"):
        response = page(client, path)
        assert response.status_code == 404, path
    assert "storefront" in page(client, "/acme/desk/reports/sales").get_data(as_text=True)
    # Another org's reports do not exist for this manager.
    make_desk("rival")
    assert page(client, "/rival/desk/reports/volume").status_code == 404
    assert page(client, "/rival/desk/reports").status_code == 404


def test_api_responses_match_the_openapi_document(history, client, read):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/reports/{name}"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "name", "from", "to", "interval", "team", "agent", "tag", "channel", "by"}
    assert {"200", "401", "403", "404", "422"} <= set(operation["responses"])
    schema = {"$ref": "#/components/schemas/Report", "components": spec["components"]}
    for name in ("volume", "first-response", "resolution", "sla", "agents", "csat"):
        report = read(history, name, **WEEK)
        errors = [e.message for e in OAS31Validator(schema).iter_errors(report)]
        assert errors == [], (name, errors)
