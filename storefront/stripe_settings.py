"""Settings → Connect Stripe (/<org>/desk/settings/stripe): the shop's Stripe account.

Admins and owners enter their connected account id (acct_...); with STRIPE_SECRET_KEY set,
Stripe is asked whether it knows the account. The page also says what the shop offers now
(cards or cash on delivery only), the platform fee of the org's plan and the webhook address.
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from helpdesk.core.auth import staff_required
from helpdesk.core.exceptions import ServiceError
from helpdesk.core.forms import form_status, show_service_error
from helpdesk.core.views import run_and_flash
from helpdesk.core.web import org_blueprint
from helpdesk.orgs.forms import EmptyForm
from helpdesk.orgs.models import Role
from storefront import payments

bp = org_blueprint("stripe_settings", __name__, "desk")
admin_required = staff_required(Role.ADMIN)


class StripeAccountForm(FlaskForm):
    account_id = StringField(
        "Stripe account id",
        [InputRequired("Enter the account id."), Length(max=255)],
        description="Stripe Dashboard → Settings → Account details: starts with acct_.",
        filters=[lambda value: (value or "").strip()])


@bp.route("/settings/stripe", methods=["GET", "POST"])
@admin_required
def settings():
    form = StripeAccountForm(account_id=g.org.stripe_account_id or "")
    status = 200
    if form.validate_on_submit():
        try:
            changed = payments.connect_account(g.org, form.account_id.data)
        except ServiceError as error:
            show_service_error(form, error)
            status = error.status
        else:
            where = ("card payments go to it" if payments.stripe_enabled()
                     else "card payments will go to it once they are switched on")
            flash(f"Stripe account {g.org.stripe_account_id} connected: {where}."
                  if changed else "That account was connected already.", "success")
            return redirect(url_for("stripe_settings.settings"), 303)
    else:
        status = form_status(form)
    config = current_app.config
    fee_bps = g.org.plan_info.application_fee_bps
    return render_template(
        "storefront/stripe_settings.html", form=form, button_form=EmptyForm(),
        stripe_enabled=payments.stripe_enabled(),
        webhooks_enabled=bool(config.get("STRIPE_WEBHOOK_SECRET")),
        webhook_url=f"{config['PUBLIC_URL']}{url_for('stripe_webhooks.stripe_webhook')}",
        fee_percent=f"{fee_bps / 100:g}", plan_name=g.org.plan_info.name), status


@bp.post("/settings/stripe/disconnect")
@admin_required
def disconnect():
    if EmptyForm().validate_on_submit():
        account = g.org.stripe_account_id
        run_and_flash(lambda: payments.forget_account(g.org),
                      f"Stripe account {account} disconnected." if account
                      else "No Stripe account was connected.")
    return redirect(url_for("stripe_settings.settings"), 303)
