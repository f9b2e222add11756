"""The desk's reports: an index, each report's page (filters, chart, table) and its CSV export.
Managers, admins and owners only; agents get a 403 page that says so."""

from __future__ import annotations

from flask import Response, abort, g, render_template, request, url_for

from helpdesk.core.auth import staff_required
from helpdesk.core.exceptions import NotFound, ValidationFailed
from helpdesk.reports import bp, export, services
from helpdesk.reports.params import BREAKDOWNS, CHANNELS, INTERVALS, REPORTS, check_name
from helpdesk.tickets.queries import members, teams

MIN_ROLE = services.MIN_ROLE


@bp.get("/reports")
@staff_required(MIN_ROLE)
def index():
    return render_template("helpdesk/reports/index.html", names=REPORTS,
                           titles=services.TITLES, descriptions=services.DESCRIPTIONS)


def _known(name: str) -> str:
    try:
        return check_name(name)
    except NotFound as error:
        abort(404, description=error.message)


@bp.get("/reports/<name>")
@staff_required(MIN_ROLE)
def report(name: str):
    name = _known(name)
    values = {key: value.strip() for key, value in request.args.items()}
    report_data, errors, status = None, {}, 200
    try:
        params = services.parse_params(g.org, name, request.args, strict=False)
    except ValidationFailed as error:
        errors, status = error.fields, error.status
    else:
        report_data = services.run_report(g.org, params)
        values = params.query_args()
    header, rows = export.table(report_data) if report_data else ([], [])
    csv_url = url_for("reports.report_csv", name=name, **values) if report_data else None
    return render_template(
        "helpdesk/reports/report.html", name=name, title=services.TITLES[name],
        description=services.DESCRIPTIONS[name], report=report_data, header=header, rows=rows,
        values=values, errors=errors, csv_url=csv_url, teams=teams(), members=members(),
        channels=CHANNELS, intervals=INTERVALS, breakdowns=BREAKDOWNS,
        names=REPORTS,
        titles=services.TITLES), status


@bp.get("/reports/<name>.csv")
@staff_required(MIN_ROLE)
def report_csv(name: str):
    name = _known(name)
    try:
        params = services.parse_params(g.org, name, request.args, strict=False)
    except ValidationFailed as error:
        problems = "; ".join(f"{key}: {message}" for key, message in error.fields.items())
        abort(422, description=f"{error.message} {problems}".strip())
    header, rows = export.table(services.run_report(g.org, params))
    filename = f"{name}-{params.first_day}-{params.last_day}.csv"
    return Response(export.to_csv(header, rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
