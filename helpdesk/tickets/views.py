"""Desk pages for tickets (the inbox and the ticket page)."""

from __future__ import annotations

from flask import abort, render_template

from helpdesk.core.auth import staff_required
from helpdesk.tickets import bp, services


@bp.get("/<id:number>")
@staff_required()
def detail(number: int):
    ticket = services.get_ticket(number)
    if ticket is None:
        abort(404)
    return render_template("helpdesk/tickets/detail.html", ticket=ticket)
