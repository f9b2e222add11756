"""A manager opens the volume report in Chromium: Chart.js (served from static/, no CDN) draws
the chart, the table holds the same figures, the filters and the CSV link work, and the page
raises no console or CSP errors."""

from types import SimpleNamespace

from playwright.sync_api import expect

from helpdesk.accounts import services as accounts
from helpdesk.core import tenancy
from helpdesk.extensions import db
from helpdesk.orgs import services as orgs
from helpdesk.orgs.models import Membership, Role
from helpdesk.tickets import services
from helpdesk.tickets.models import Channel, Status

PASSWORD = "reports-password-1"


def seed(app) -> SimpleNamespace:
    """Three tickets created today (one by the portal), one of them solved."""
    with app.app_context():
        with tenancy.system_scope():
            owner = accounts.create_user(email="olu@dune.test", name="Olu Owner",
                                         password=PASSWORD)
            org = orgs.create_org(name="Dune Gear", slug="dune", owner=owner,
                                  plan="professional")
            maya = accounts.create_user(email="maya@dune.test", name="Maya Manager",
                                        password=PASSWORD)
            db.session.add(Membership(org_id=org.id, user=maya, role=Role.MANAGER))
            db.session.flush()
        tenancy.set_current_org(org.id)
        customer = services.find_or_create_customer("rae@example.com", "Rae")
        tickets = [services.create_ticket(None, subject=subject, body_text="Hello",
                                          customer=customer, channel=channel)
                   for subject, channel in (("Zip broke", Channel.EMAIL),
                                            ("Wrong size", Channel.PORTAL),
                                            ("Refund?", Channel.EMAIL))]
        services.update_ticket(owner.id, tickets[0], status=Status.SOLVED)
        db.session.commit()
        return SimpleNamespace(slug=org.slug)


def test_volume_report_draws_its_chart_and_table(live_server, page, tmp_path):
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    tenant = seed(live_server.app)
    base = live_server.url
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("maya@dune.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Desk").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()
    page.get_by_role("link", name="Ticket volume").click()
    expect(page.get_by_role("heading", name="Ticket volume")).to_be_visible()

    # The chart: a Chart.js instance on the canvas with the four series, and pixels drawn.
    canvas = page.get_by_test_id("report-chart")
    expect(canvas).to_be_visible()
    page.wait_for_function("() => window.Chart && Chart.getChart('report-chart')")
    chart = page.evaluate("""() => {
        const chart = Chart.getChart('report-chart');
        const canvas = document.getElementById('report-chart');
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
        return {type: chart.config.type, labels: chart.data.labels.length,
                datasets: chart.data.datasets.map((d) => d.label),
                created: chart.data.datasets[0].data.reduce((a, b) => a + b, 0),
                width: canvas.width, height: canvas.height, painted};
    }""")
    assert chart["datasets"] == ["Created", "Solved", "Reopened", "Backlog at end"]
    assert chart["labels"] == 30 and chart["created"] == 3
    assert chart["width"] > 100 and chart["height"] > 100 and chart["painted"] > 500
    page.screenshot(path=str(tmp_path / "volume.png"), full_page=True)

    # The table beside it: 30 days, today's row with 3 created and 1 solved, and the totals.
    table = page.get_by_test_id("report-table")
    expect(table.locator("tbody tr")).to_have_count(30)
    last = table.locator("tbody tr").last.locator("td")
    expect(last.nth(1)).to_have_text("3")
    expect(last.nth(2)).to_have_text("1")
    expect(last.nth(4)).to_have_text("2")
    expect(page.get_by_test_id("report-totals")).to_contain_text("Created")
    expect(page.get_by_test_id("breakdown-table")).to_contain_text("portal")

    # A filter: the portal channel only, per week; the chart is drawn again.
    filters = page.get_by_test_id("report-filters")
    filters.get_by_label("Channel").select_option("portal")
    filters.get_by_label("Per").select_option("week")
    page.get_by_role("button", name="Show").click()
    assert page.url.startswith(f"{base}/{tenant.slug}/desk/reports/volume?")
    assert "channel=portal" in page.url and "interval=week" in page.url
    page.wait_for_function("() => window.Chart && Chart.getChart('report-chart')")
    created = page.evaluate("() => Chart.getChart('report-chart').data.datasets[0].data"
                            ".reduce((a, b) => a + b, 0)")
    assert created == 1
    with page.expect_download() as download:
        page.get_by_test_id("csv-link").click()
    path = download.value.path()
    assert path is not None
    assert download.value.suggested_filename.startswith("volume-")
    with open(path, encoding="utf-8") as export:
        lines = export.read().splitlines()
    assert lines[0] == "period,created,solved,reopened,backlog"
    assert sum(int(line.split(",")[1]) for line in lines[1:]) == 1
    assert problems == []
