"""SLA settings pages: policies and business calendars (Settings → SLA), for managers and up.

Plans without the "sla" feature see the default policy read-only, and changing a policy is a
403 with the upgrade message. Calendars can be edited on every plan: the default policy counts
the default calendar's business hours.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, flash, g, redirect, render_template, url_for

from helpdesk.core.auth import staff_required
from helpdesk.core.exceptions import ServiceError
from helpdesk.core.forms import form_status, show_service_error
from helpdesk.core.views import get_or_404, run_and_flash
from helpdesk.orgs.forms import EmptyForm
from helpdesk.orgs.models import Role
from helpdesk.sla import bp, forms, services
from helpdesk.sla.calendar import WEEKDAYS
from helpdesk.sla.clock import has_sla_feature
from helpdesk.sla.models import TARGET_LABELS, TARGETS, BusinessCalendar, SlaPolicy

OFFSETS = {"up": -1, "down": 1}
manager_required = staff_required(Role.MANAGER)


def sla_feature_required(view):
    """Policy pages beyond the default policy need a plan with the "sla" feature."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not has_sla_feature(g.org):
            abort(403, description=services.upgrade_message(g.org))
        return view(*args, **kwargs)

    return wrapper


def _show_errors(form, error: ServiceError) -> None:
    fields = {forms.SERVICE_FIELDS.get(key, key): text for key, text in error.fields.items()}
    show_service_error(form, ServiceError(error.message, fields))


def _form_page(form, save: Callable[[], SlaPolicy | BusinessCalendar], kind: str,
               template: str, **context):
    """A policy or calendar form: on a valid submission `save()` and back to the list; else
    the form again with its errors next to the fields (422) and the input as it was typed."""
    if form.validate_on_submit():
        try:
            saved = save()
        except ServiceError as error:
            _show_errors(form, error)
            status = error.status
        else:
            flash(f"{kind} “{saved.name}” saved.", "success")
            return redirect(url_for("sla.settings"))
    else:
        status = form_status(form)
    return render_template(template, form=form, **context), status


@bp.get("/settings/sla")
@manager_required
def settings():
    full = has_sla_feature(g.org)
    policies = services.policies()
    calendars = services.calendars()
    return render_template(
        "helpdesk/sla/settings.html",
        policies=policies if full else [p for p in policies if p.is_default],
        calendars=calendars, calendar_names={c.id: c.name for c in calendars},
        default_calendar=next((c for c in calendars if c.is_default), None),
        can_edit_policies=full, upgrade_message=None if full else services.upgrade_message(g.org),
        button_form=EmptyForm(), **forms.DESCRIBE)


# Policies --------------------------------------------------------------------------------------

@bp.route("/settings/sla/policies/new", methods=["GET", "POST"])
@manager_required
@sla_feature_required
def new_policy():
    return _policy_page(None)


@bp.route("/settings/sla/policies/<id:policy_id>", methods=["GET", "POST"])
@manager_required
@sla_feature_required
def edit_policy(policy_id: int):
    return _policy_page(get_or_404(SlaPolicy, policy_id))


def _policy_page(policy: SlaPolicy | None):
    form = forms.PolicyForm(data=policy and forms.policy_form_data(policy))
    form.with_calendars(services.calendars())

    def save() -> SlaPolicy:
        if policy is None:
            return services.create_policy(g.org, form.service_data())
        return services.update_policy(g.org, policy, form.service_data())

    return _form_page(form, save, "Policy", "helpdesk/sla/policy_form.html", policy=policy,
                      targets=TARGETS, target_labels=TARGET_LABELS)


@bp.post("/settings/sla/policies/<id:policy_id>/move/<any(up, down):direction>")
@manager_required
@sla_feature_required
def move_policy(policy_id: int, direction: str):
    policy = get_or_404(SlaPolicy, policy_id)
    if EmptyForm().validate_on_submit():
        run_and_flash(lambda: services.move_policy(g.org, policy, OFFSETS[direction]),
                      f"Policy “{policy.name}” moved {direction}.")
    return redirect(url_for("sla.settings"))


@bp.post("/settings/sla/policies/<id:policy_id>/<any(activate, deactivate):state>")
@manager_required
@sla_feature_required
def switch_policy(policy_id: int, state: str):
    policy = get_or_404(SlaPolicy, policy_id)
    if EmptyForm().validate_on_submit():
        data = forms.policy_service_data(policy, is_active=state == "activate")
        run_and_flash(lambda: services.update_policy(g.org, policy, data),
                      f"Policy “{policy.name}” {state}d.")
    return redirect(url_for("sla.settings"))


@bp.post("/settings/sla/policies/<id:policy_id>/delete")
@manager_required
@sla_feature_required
def delete_policy(policy_id: int):
    policy = get_or_404(SlaPolicy, policy_id)
    if EmptyForm().validate_on_submit():
        run_and_flash(lambda: services.delete_policy(g.org, policy),
                      f"Policy “{policy.name}” deleted.")
    return redirect(url_for("sla.settings"))


# Business calendars ----------------------------------------------------------------------------

@bp.route("/settings/sla/calendars/new", methods=["GET", "POST"])
@manager_required
def new_calendar():
    return _calendar_page(None)


@bp.route("/settings/sla/calendars/<id:calendar_id>", methods=["GET", "POST"])
@manager_required
def edit_calendar(calendar_id: int):
    return _calendar_page(get_or_404(BusinessCalendar, calendar_id))


def _calendar_page(calendar: BusinessCalendar | None):
    form = forms.CalendarForm(data=calendar and forms.calendar_form_data(calendar))
    form.with_choices()

    def save() -> BusinessCalendar:
        if calendar is None:
            return services.create_calendar(g.org, form.service_data())
        return services.update_calendar(g.org, calendar, form.service_data())

    return _form_page(form, save, "Calendar", "helpdesk/sla/calendar_form.html",
                      calendar=calendar, weekdays=WEEKDAYS)


@bp.post("/settings/sla/calendars/<id:calendar_id>/default")
@manager_required
def make_default_calendar(calendar_id: int):
    calendar = get_or_404(BusinessCalendar, calendar_id)
    if EmptyForm().validate_on_submit():
        run_and_flash(lambda: services.make_default_calendar(g.org, calendar),
                      f"“{calendar.name}” is now the default calendar.")
    return redirect(url_for("sla.settings"))


@bp.post("/settings/sla/calendars/<id:calendar_id>/delete")
@manager_required
def delete_calendar(calendar_id: int):
    calendar = get_or_404(BusinessCalendar, calendar_id)
    if EmptyForm().validate_on_submit():
        run_and_flash(lambda: services.delete_calendar(g.org, calendar),
                      f"Calendar “{calendar.name}” deleted.")
    return redirect(url_for("sla.settings"))
