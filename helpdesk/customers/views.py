from __future__ import annotations

from flask import abort, render_template

from helpdesk.core.auth import staff_required
from helpdesk.customers import bp, services


@bp.get("/<id:customer_id>")
@staff_required()
def detail(customer_id: int):
    customer = services.get_customer(customer_id)
    if customer is None:
        abort(404)
    return render_template("helpdesk/customers/detail.html", customer=customer)
