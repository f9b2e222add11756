from __future__ import annotations

from flask import g, render_template
from sqlalchemy import select

from helpdesk.core.auth import staff_required
from helpdesk.customers.models import Customer
from helpdesk.desk import bp
from helpdesk.extensions import db
from helpdesk.orgs import services as org_services


@bp.get("/")
@staff_required()
def home():
    recent_customers = db.session.scalars(
        select(Customer).order_by(Customer.created_at.desc()).limit(10)
    ).all()
    return render_template(
        "helpdesk/desk/home.html",
        recent_customers=recent_customers,
        seats_used=org_services.seats_used(g.org),
    )
