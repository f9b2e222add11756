"""Settings → SLA: policies (plan-gated) and business calendars, for managers and up."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from helpdesk.orgs.models import Organization
from helpdesk.sla import services
from helpdesk.sla.models import BusinessCalendar, SlaPolicy

NEW_POLICY = {"name": "VIP email", "priorities": ["urgent", "high"],
              "channels": ["email", "phone"], "tags": "vip, Billing",
              "customer_domains": "@BigClient.com", "first_reply_hours": "1",
              "first_reply_mins": "30", "next_reply_mins": "45", "business_hours": "calendar",
              "calendar_id": "", "warn_percent": "75", "is_active": "y"}


@pytest.fixture
def sla_desk(make_org, make_member, client, login):
    """`sla_desk(plan)`: an org with a manager and an agent; `.as_(person)` signs them in."""

    def build(plan: str = "professional"):
        org = make_org(plan=plan)
        desk = SimpleNamespace(org=org, manager=make_member(org, "manager"),
                               agent=make_member(org, "agent"))

        def sign_in_as(person):
            client.post("/logout")
            assert login(person.email).status_code == 302

        desk.as_ = sign_in_as
        desk.url = lambda path="": f"/{org.slug}/desk/settings/sla{path}"
        return desk

    return build


def policies_of(in_org, org) -> list[SlaPolicy]:
    with in_org(org.id) as session:
        rows = list(session.scalars(select(SlaPolicy).order_by(SlaPolicy.position,
                                                               SlaPolicy.id)))
        session.expunge_all()
        return rows


def calendars_of(in_org, org) -> list[BusinessCalendar]:
    with in_org(org.id) as session:
        rows = list(session.scalars(select(BusinessCalendar).order_by(BusinessCalendar.id)))
        session.expunge_all()
        return rows


def policy_id(in_org, org, name: str) -> int:
    return next(p.id for p in policies_of(in_org, org) if p.name == name)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_list_page_shows_policies_in_order_with_targets_and_calendars(client, sla_desk):
    desk = sla_desk("professional")
    desk.as_(desk.manager)
    response = client.get(desk.url())
    assert response.status_code == 200
    page = text_of(response)
    positions = [page.index(f">{name}</a>") for name in ("Urgent", "High", "Normal", "Low")]
    assert positions == sorted(positions)
    assert "Tickets where priority is Urgent" in page
    assert "First reply 1 h business hours" in page and "Resolution 8 h business hours" in page
    assert "Business hours of Office hours (the default calendar)." in page
    assert "Office hours" in page and "UTC" in page
    assert "<dt>Monday</dt><dd>09:00-17:00</dd>" in page
    assert "<dt>Sunday</dt><dd>closed</dd>" in page and "No public holidays" in page
    assert "New policy" in page and "New calendar" in page and 'aria-label="Edit “Urgent”"' in page
    assert 'aria-label="Delete “Urgent”"' in page and 'aria-label="Delete “Normal”"' not in page
    assert 'data-testid="sla-upgrade"' not in page
    index = text_of(client.get(f"/{desk.org.slug}/desk/settings/"))
    assert "SLA policies and business hours" in index


def test_starter_sees_the_default_policy_read_only_and_cannot_post(client, sla_desk, in_org):
    desk = sla_desk("starter")
    desk.as_(desk.manager)
    page = text_of(client.get(desk.url()))
    with in_org(desk.org.id) as session:
        message = services.upgrade_message(session.get(Organization, desk.org.id))
    assert message in page and "Professional and Enterprise" in message
    assert "<strong>Normal</strong>" in page and "Every ticket" in page
    assert ">Urgent<" not in page and "New policy" not in page
    assert "Edit “Normal”" not in page and "Deactivate" not in page and "Move" not in page
    assert "New calendar" in page and "Edit “Office hours”" in page  # calendars stay editable
    before = [(p.id, p.name, p.is_active, p.position) for p in policies_of(in_org, desk.org)]
    normal, urgent = policy_id(in_org, desk.org, "Normal"), policy_id(in_org, desk.org, "Urgent")
    for path in ("/policies/new", f"/policies/{normal}", f"/policies/{urgent}/delete",
                 f"/policies/{normal}/move/up", f"/policies/{normal}/deactivate"):
        response = client.post(desk.url(path), data=NEW_POLICY)
        assert response.status_code == 403, path
        assert message in text_of(response)
    assert client.get(desk.url("/policies/new")).status_code == 403
    assert [(p.id, p.name, p.is_active, p.position)
            for p in policies_of(in_org, desk.org)] == before
    response = client.post(desk.url("/calendars/new"), data={
        "name": "Weekend shift", "timezone": "UTC", "sat": "10:00-14:00"})
    assert response.status_code == 302
    assert [c.name for c in calendars_of(in_org, desk.org)] == ["Office hours", "Weekend shift"]


def test_manager_creates_edits_moves_switches_and_deletes_a_policy(client, sla_desk, in_org):
    desk = sla_desk("professional")
    desk.as_(desk.manager)
    assert client.get(desk.url("/policies/new")).status_code == 200
    response = client.post(desk.url("/policies/new"), data=NEW_POLICY)
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings/sla")
    vip = policies_of(in_org, desk.org)[-1]
    assert (vip.name, vip.first_reply_minutes, vip.next_reply_minutes,
            vip.resolution_minutes, vip.business_hours, vip.warn_percent, vip.is_active) == (
        "VIP email", 90, 45, None, False, 75, True)
    assert vip.conditions == {"priorities": ["urgent", "high"], "channels": ["email", "phone"],
                              "tags": ["vip", "billing"], "customer_domains": ["bigclient.com"]}
    page = text_of(client.get(desk.url()))
    assert "Policy “VIP email” saved." in page
    assert ("Tickets where priority is Urgent or High and channel is Email or Phone and "
            "tagged vip or billing and customer's domain is bigclient.com") in page
    assert "First reply 1 h 30 min calendar hours" in page
    assert "Next reply 45 min calendar hours" in page and "Resolution: no target" in page

    # The edit page starts from the saved values.
    form = text_of(client.get(desk.url(f"/policies/{vip.id}")))
    assert 'value="VIP email"' in form and 'value="vip, billing"' in form
    assert re.search(r'<input id="first_reply_hours"[^>]* type="number" value="1">', form)
    assert re.search(r'<input id="first_reply_mins"[^>]* type="number" value="30">', form)
    assert re.search(r'<input id="resolution_hours"[^>]* type="number" value="">', form)
    assert 'checked id="priorities-0" name="priorities" type="checkbox" value="urgent"' in form

    office = calendars_of(in_org, desk.org)[0]
    edited = {**NEW_POLICY, "name": "VIP", "business_hours": "business",
              "calendar_id": str(office.id), "resolution_hours": "24", "channels": []}
    assert client.post(desk.url(f"/policies/{vip.id}"), data=edited).status_code == 302
    vip = next(p for p in policies_of(in_org, desk.org) if p.id == vip.id)
    assert (vip.name, vip.business_hours, vip.calendar_id, vip.resolution_minutes) == (
        "VIP", True, office.id, 24 * 60)
    assert "channels" not in vip.conditions

    # First match wins: move it above Low, then switch it off and on.
    assert [p.name for p in policies_of(in_org, desk.org)] == [
        "Urgent", "High", "Normal", "Low", "VIP"]
    assert client.post(desk.url(f"/policies/{vip.id}/move/up")).status_code == 302
    assert [p.name for p in policies_of(in_org, desk.org)] == [
        "Urgent", "High", "Normal", "VIP", "Low"]
    client.post(desk.url(f"/policies/{vip.id}/move/down"))
    client.post(desk.url(f"/policies/{vip.id}/move/down"))  # already last: stays
    assert [p.name for p in policies_of(in_org, desk.org)][-1] == "VIP"
    assert client.post(desk.url(f"/policies/{vip.id}/deactivate")).status_code == 302
    assert not policies_of(in_org, desk.org)[-1].is_active
    assert "inactive" in text_of(client.get(desk.url()))
    client.post(desk.url(f"/policies/{vip.id}/activate"))
    assert policies_of(in_org, desk.org)[-1].is_active

    assert client.post(desk.url(f"/policies/{vip.id}/delete")).status_code == 302
    assert "VIP" not in [p.name for p in policies_of(in_org, desk.org)]
    normal = policy_id(in_org, desk.org, "Normal")
    response = client.post(desk.url(f"/policies/{normal}/delete"), follow_redirects=True)
    assert "The default policy stays." in text_of(response)
    assert "Normal" in [p.name for p in policies_of(in_org, desk.org)]


def test_invalid_policy_input_shows_field_errors_and_keeps_the_input(client, sla_desk, in_org,
                                                                     make_org):
    desk = sla_desk("professional")
    desk.as_(desk.manager)
    before = len(policies_of(in_org, desk.org))
    no_target = {"name": "Keep me", "priorities": ["urgent"], "tags": "vip, gold",
                 "customer_domains": "shop.example", "warn_percent": "150",
                 "business_hours": "calendar"}
    response = client.post(desk.url("/policies/new"), data=no_target)
    assert response.status_code == 422
    page = text_of(response)
    assert 'id="first_reply-error">set at least one target' in page
    assert 'id="warn_percent-error">a percentage from 1 to 99' in page
    assert 'value="Keep me"' in page and 'value="vip, gold"' in page
    assert 'value="shop.example"' in page and 'value="150"' in page
    assert 'checked id="priorities-0" name="priorities" type="checkbox" value="urgent"' in page
    assert 'checked id="business_hours-1"' in page

    not_a_number = {**no_target, "warn_percent": "80", "first_reply_hours": "two"}
    page = text_of(client.post(desk.url("/policies/new"), data=not_a_number))
    assert "Not a valid integer value." in page and 'value="two"' in page

    response = client.post(desk.url("/policies/new"), data={
        **no_target, "warn_percent": "80", "first_reply_mins": "0", "channels": ["fax"]})
    assert response.status_code == 422
    assert "'fax' is not a valid choice for this field." in text_of(response)
    response = client.post(desk.url("/policies/new"), data={
        **no_target, "warn_percent": "80", "first_reply_mins": "0"})
    assert "whole minutes from 1 to" in text_of(response)

    other = make_org(plan="professional")
    foreign_calendar = calendars_of(in_org, other)[0].id
    response = client.post(desk.url("/policies/new"), data={
        **no_target, "warn_percent": "80", "first_reply_hours": "2",
        "calendar_id": str(foreign_calendar)})
    assert response.status_code == 422
    assert 'id="calendar_id-error">no such calendar' in text_of(response)
    for hostile in ("99999999999999999999", "-1", "abc"):
        response = client.post(desk.url("/policies/new"), data={
            **no_target, "warn_percent": "80", "first_reply_hours": "2", "calendar_id": hostile})
        assert response.status_code == 422, hostile
        assert 'id="calendar_id-error">no such calendar' in text_of(response)
    response = client.post(desk.url("/policies/new"), data={**NEW_POLICY, "name": "  "})
    assert response.status_code == 422 and "Give the policy a name." in text_of(response)
    assert len(policies_of(in_org, desk.org)) == before


def test_calendar_with_split_shifts_and_holidays_is_saved_and_shown(client, sla_desk, in_org):
    desk = sla_desk("growing")
    desk.as_(desk.manager)
    assert client.get(desk.url("/calendars/new")).status_code == 200
    data = {"name": "Berlin desk", "timezone": "Europe/Berlin",
            "mon": "09:00-12:00, 13:00-17:00", "tue": "09:00-12:00; 13:00-17:00",
            "fri": "09:00-13:00", "holiday_country": "DE", "holiday_subdiv": "by",
            "custom_holidays": "2026-12-24 Shop closed\n\n2026-12-31 Inventory\n"}
    response = client.post(desk.url("/calendars/new"), data=data)
    assert response.status_code == 302
    berlin = calendars_of(in_org, desk.org)[-1]
    assert (berlin.name, berlin.timezone, berlin.holiday_country, berlin.holiday_subdiv) == (
        "Berlin desk", "Europe/Berlin", "DE", "BY")
    assert berlin.hours == {"mon": [[540, 720], [780, 1020]], "tue": [[540, 720], [780, 1020]],
                            "fri": [[540, 780]]}
    assert berlin.custom_holidays == [{"date": "2026-12-24", "name": "Shop closed"},
                                      {"date": "2026-12-31", "name": "Inventory"}]
    assert not berlin.is_default

    page = text_of(client.get(desk.url()))
    assert "Calendar “Berlin desk” saved." in page
    assert "<dt>Monday</dt><dd>09:00-12:00, 13:00-17:00</dd>" in page
    assert "<dt>Wednesday</dt><dd>closed</dd>" in page and "Europe/Berlin" in page
    assert "Public holidays of Germany (DE), region BY" in page
    assert '<time datetime="2026-12-24">2026-12-24</time> Shop closed' in page

    form = text_of(client.get(desk.url(f"/calendars/{berlin.id}")))
    assert 'value="09:00-12:00, 13:00-17:00"' in form and 'value="BY"' in form
    assert "2026-12-24 Shop closed\n2026-12-31 Inventory</textarea>" in form
    assert '<option selected value="Europe/Berlin">' in form
    assert '<option selected value="DE">Germany (DE)</option>' in form and "BW, BY" in form

    office = calendars_of(in_org, desk.org)[0]
    response = client.post(desk.url(f"/calendars/{office.id}/delete"), follow_redirects=True)
    assert "The default calendar stays." in text_of(response)
    assert client.post(desk.url(f"/calendars/{berlin.id}/default")).status_code == 302
    assert {c.name: c.is_default for c in calendars_of(in_org, desk.org)} == {
        "Office hours": False, "Berlin desk": True}
    assert client.post(desk.url(f"/calendars/{office.id}/delete")).status_code == 302
    assert [c.name for c in calendars_of(in_org, desk.org)] == ["Berlin desk"]
    assert client.post(desk.url(f"/calendars/{berlin.id}"), data={
        **data, "name": "Berlin", "holiday_country": "", "holiday_subdiv": "",
        "custom_holidays": ""}).status_code == 302
    [berlin] = calendars_of(in_org, desk.org)
    assert (berlin.name, berlin.holiday_country, berlin.custom_holidays) == ("Berlin", None, [])


def test_invalid_calendar_input_shows_field_errors_and_keeps_the_input(client, sla_desk,
                                                                       in_org):
    desk = sla_desk("professional")
    desk.as_(desk.manager)
    data = {"name": "Night shift", "timezone": "Mars/Olympus", "mon": "22:00-06:00",
            "tue": "9-25", "wed": "09:00-12:00, 11:00-13:00", "holiday_country": "ZZ",
            "custom_holidays": "2026-12-24 Fine\n24.12.2026 Wrong way round"}
    response = client.post(desk.url("/calendars/new"), data=data)
    assert response.status_code == 422
    page = text_of(response)
    assert 'id="timezone-error">an IANA time zone such as Europe/Berlin' in page
    assert 'id="mon-error">“22:00-06:00”: the end must come after the start' in page
    assert 'id="tue-error">“9-25”: write spans like 09:00-17:00' in page
    assert 'id="wed-error">spans overlap' in page
    assert 'id="holiday_country-error">a country the holidays package knows' in page
    assert 'id="custom_holidays-error">line 2: start with a date like 2026-12-24' in page
    assert 'value="Night shift"' in page and 'value="22:00-06:00"' in page
    assert 'value="9-25"' in page and "24.12.2026 Wrong way round</textarea>" in page
    assert '<option selected value="Mars/Olympus">' in page  # kept, to be corrected
    response = client.post(desk.url("/calendars/new"), data={
        "name": "Office hours", "timezone": "UTC", "mon": "08:00-16:00"})
    assert response.status_code == 422
    assert 'id="name-error">another calendar has this name' in text_of(response)
    response = client.post(desk.url("/calendars/new"), data={
        "name": "Closed", "timezone": "UTC", "holiday_subdiv": "BY"})
    page = text_of(response)
    assert 'id="mon-error">give at least one working span in the week' in page
    assert 'id="holiday_subdiv-error">choose the country first' in page
    response = client.post(desk.url("/calendars/new"), data={
        "name": "Munich", "timezone": "UTC", "mon": "09:00-17:00", "holiday_country": "DE",
        "holiday_subdiv": "XX"})
    assert 'id="holiday_subdiv-error">not a region of that country' in text_of(response)
    assert [c.name for c in calendars_of(in_org, desk.org)] == ["Office hours"]


def test_agents_may_not_see_or_change_sla_settings(client, sla_desk, in_org):
    desk = sla_desk("professional")
    desk.as_(desk.agent)
    normal = policy_id(in_org, desk.org, "Normal")
    office = calendars_of(in_org, desk.org)[0].id
    assert client.get(desk.url()).status_code == 403
    for path in ("/policies/new", f"/policies/{normal}", "/calendars/new",
                 f"/calendars/{office}"):
        assert client.get(desk.url(path)).status_code == 403, path
    for path in ("/policies/new", f"/policies/{normal}", f"/policies/{normal}/delete",
                 f"/policies/{normal}/deactivate", f"/policies/{normal}/move/down",
                 "/calendars/new", f"/calendars/{office}", f"/calendars/{office}/default"):
        assert client.post(desk.url(path), data=NEW_POLICY).status_code == 403, path
    assert "SLA policies" not in text_of(client.get(f"/{desk.org.slug}/desk/settings/"))
    assert [p.name for p in policies_of(in_org, desk.org)] == ["Urgent", "High", "Normal", "Low"]
    client.post("/logout")
    response = client.get(desk.url())
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_another_orgs_policy_and_calendar_are_404(client, sla_desk, make_org, in_org):
    desk = sla_desk("professional")
    other = make_org(plan="professional")
    theirs = policies_of(in_org, other)
    foreign_policy = next(p.id for p in theirs if not p.is_default)
    foreign_calendar = calendars_of(in_org, other)[0].id
    desk.as_(desk.manager)
    assert client.get(desk.url(f"/policies/{foreign_policy}")).status_code == 404
    assert client.get(desk.url(f"/calendars/{foreign_calendar}")).status_code == 404
    for path in (f"/policies/{foreign_policy}", f"/policies/{foreign_policy}/delete",
                 f"/policies/{foreign_policy}/move/up", f"/policies/{foreign_policy}/deactivate",
                 f"/calendars/{foreign_calendar}", f"/calendars/{foreign_calendar}/default",
                 f"/calendars/{foreign_calendar}/delete"):
        assert client.post(desk.url(path), data=NEW_POLICY).status_code == 404, path
    assert [(p.id, p.name, p.position, p.is_active) for p in policies_of(in_org, other)] == [
        (p.id, p.name, p.position, p.is_active) for p in theirs]
    assert [(c.name, c.is_default) for c in calendars_of(in_org, other)] == [
        ("Office hours", True)]
    # Nor does the other org's slug open for this manager.
    assert client.get(f"/{other.slug}/desk/settings/sla").status_code == 404
