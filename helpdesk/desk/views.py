"""The agent desk: the home page (the inbox, greeted) and the notifications page."""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from helpdesk.core.auth import current_membership, staff_required
from helpdesk.core.keyset import paginate
from helpdesk.desk import bp
from helpdesk.extensions import db
from helpdesk.orgs.forms import EmptyForm
from helpdesk.tickets import notifications
from helpdesk.tickets.inbox_views import inbox_page
from helpdesk.tickets.models import Notification, Ticket


@bp.app_context_processor
def _desk_layout() -> dict:
    def unread_notifications() -> int:
        if g.get("org") is None or g.get("backend_down") or current_membership() is None:
            return 0
        return notifications.unread_count(current_user.id)

    return {"unread_notifications": unread_notifications,
            "has_endpoint": lambda name: name in current_app.view_functions}


@bp.get("/")
@staff_required()
def home():
    """The inbox: your open tickets when you have some, else all open ones."""
    return inbox_page(template="helpdesk/desk/home.html",
                      default_view=lambda counts: "mine" if counts["mine"] else "open")


@bp.get("/notifications", endpoint="notifications")
@staff_required()
def notifications_page():
    statement = select(Notification).where(Notification.user_id == current_user.id)
    page = paginate(statement, [Notification.created_at, Notification.id],
                    lambda n: [n.created_at, n.id], cursor=request.args.get("cursor"),
                    tag="notifications", limit=50)
    ticket_ids = {n.ticket_id for n in page.rows if n.ticket_id}
    numbers = dict(db.session.execute(select(Ticket.id, Ticket.number)
                                      .where(Ticket.id.in_(ticket_ids))).all()) \
        if ticket_ids else {}
    return render_template("helpdesk/desk/notifications.html", page=page, numbers=numbers,
                           link=lambda cursor: url_for("desk.notifications", cursor=cursor))



@bp.post("/notifications/read")
@staff_required()
def notifications_read_all():
    if EmptyForm().validate_on_submit():
        count = notifications.mark_read(current_user.id)
        flash(f"{count} notification{'' if count == 1 else 's'} marked read.", "success")
    return redirect(url_for("desk.notifications"), 303)


@bp.post("/notifications/<id:notification_id>/read")
@staff_required()
def notification_read(notification_id: int):
    """Mark one read; with `open`, go on to its ticket."""
    found = db.session.get(Notification, notification_id)  # this org's only
    if found is None or found.user_id != current_user.id:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")
    notifications.mark_read(current_user.id, found.id)
    ticket = db.session.get(Ticket, found.ticket_id) if found.ticket_id else None
    if request.form.get("open") and ticket is not None:
        return redirect(url_for("tickets.detail", number=ticket.number), 303)
    return redirect(url_for("desk.notifications"), 303)
