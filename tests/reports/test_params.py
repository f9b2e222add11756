"""Report parameters: defaults in the org's time zone, a 422 naming the field for every bad
value, 403 below the manager role, 404 for names that are not reports, 401 without a token."""

from datetime import UTC, datetime

import pytest
import time_machine


@pytest.fixture
def desk(make_desk):
    return make_desk("params")


def test_defaults_are_the_last_30_local_days_ending_today(desk, read, client):
    report = read(desk, "volume")  # at NOW, Fri 20 Nov 10:00 UTC
    assert (report["from"], report["to"], report["interval"]) == ("2026-10-22", "2026-11-20",
                                                                  "day")
    assert len(report["series"]) == 30 and report["breakdown"]["by"] == "channel"
    # 23:30 UTC is already Saturday in Berlin: today is the 21st there.
    with time_machine.travel(datetime(2026, 11, 20, 23, 30, tzinfo=UTC), tick=False):
        late = client.get("/api/v1/reports/resolution", headers=desk.headers["manager"]).json
    assert (late["from"], late["to"]) == ("2026-10-23", "2026-11-21")
    # Only `to`: the 30 days before it; only `from`: up to today.
    assert read(desk, "sla", to="2026-11-10")["from"] == "2026-10-12"
    assert read(desk, "agents", from_="2026-11-01")["to"] == "2026-11-20"
    # A range of exactly 731 days is allowed; buckets cover every month of it.
    report = read(desk, "volume", from_="2024-11-20", to="2026-11-20", interval="month")
    assert len(report["series"]) == 25 and report["series"][0]["period"] == "2024-11-01"


@pytest.mark.parametrize(("args", "field"), [
    ({"from": "2026-13-01"}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"to": "2026-02-30"}, "to"),
    ({"to": "0001-01-01"}, "to"),
    ({"from": "2026-11-10", "to": "2026-11-09"}, "from"),
    ({"from": "2024-11-19", "to": "2026-11-20"}, "to"),  # 732 days
    ({"interval": "hour"}, "interval"),
    ({"team": "abc"}, "team"),
    ({"team": "0"}, "team"),
    ({"team": "99999999999999999999"}, "team"),
    ({"agent": "me"}, "agent"),
    ({"agent": "-3"}, "agent"),
    ({"channel": "fax"}, "channel"),
    ({"tag": "x" * 51}, "tag"),
    ({"by": "customer"}, "by"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_parameters_are_422_naming_the_field(desk, read, args, field):
    error = read(desk, "volume", expect=422, **args)["error"]
    assert error["code"] == "invalid" and field in error["fields"], error
    assert error["message"]


def test_filters_must_name_this_orgs_team_and_members(desk, read, make_desk):
    other = make_desk("other")
    error = read(desk, "volume", expect=422, team=other.support)["error"]
    assert error["fields"] == {"team": "No team of this organization has that id."}
    error = read(desk, "agents", expect=422, agent=other.ada.id)["error"]
    assert error["fields"] == {"agent": "No member of this organization has that id."}
    # The breakdown belongs to the volume report only.
    error = read(desk, "sla", expect=422, by="tag")["error"]
    assert error["fields"] == {"by": "Only the volume report takes this."}


def test_agents_get_403_and_unknown_names_404(desk, read, client):
    for name in ("volume", "csat", "agents"):
        error = read(desk, name, who="agent", expect=403)["error"]
        assert error["code"] == "forbidden" and "managers" in error["message"]
    assert read(desk, "volume", who="manager")["report"] == "volume"
    for name in ("sales", "inventory"):
        error = read(desk, name, expect=404)["error"]
        assert error["code"] == "not_found" and "storefront" in error["message"]
    error = read(desk, "nope", expect=404)["error"]
    assert "volume, first-response, resolution, sla, agents, csat" in error["message"]
    assert client.get("/api/v1/reports/volume").status_code == 401
    bad = {"Authorization": "Bearer hd_1_" + "x" * 40}
    assert client.get("/api/v1/reports/volume", headers=bad).status_code == 401
