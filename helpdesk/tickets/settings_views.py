"""Desk settings of the ticket domain on settings_bp: the settings index, canned responses,
automation rules, custom fields, teams, signatures and assignment. Logic lives in tickets.admin."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from helpdesk.core.auth import current_membership, staff_required
from helpdesk.core.exceptions import ServiceError, ValidationFailed
from helpdesk.core.forms import form_status, show_service_error
from helpdesk.core.views import get_or_404, run_and_flash
from helpdesk.extensions import db
from helpdesk.orgs import settings_bp
from helpdesk.orgs.forms import EmptyForm
from helpdesk.orgs.models import Role
from helpdesk.tickets import admin, admin_rules
from helpdesk.tickets import settings_forms as forms
from helpdesk.tickets.models import AutomationRule, CustomField, Team

OFFSETS = {"up": -1, "down": 1}


@settings_bp.get("/")
@staff_required()
def index():
    return render_template("helpdesk/settings/index.html",
                           is_admin=admin.is_admin(current_membership()))


# Canned responses ------------------------------------------------------------------------------

def _canned_or_404(canned_id: int):
    response = admin.get_canned(current_membership(), canned_id)
    if response is None:  # another org's, or a colleague's personal one
        abort(404)
    return response


@settings_bp.get("/canned")
@staff_required()
def canned():
    membership = current_membership()
    return render_template("helpdesk/settings/canned.html", responses=admin.canned_for(membership),
                           is_admin=admin.is_admin(membership), button_form=EmptyForm())


@settings_bp.route("/canned/new", methods=["GET", "POST"])
@staff_required()
def new_canned():
    return _canned_page(None)


@settings_bp.route("/canned/<id:canned_id>", methods=["GET", "POST"])
@staff_required()
def edit_canned(canned_id: int):
    return _canned_page(_canned_or_404(canned_id))


def _canned_page(response):
    membership = current_membership()
    form = forms.CannedForm(obj=response, shared=response is not None
                            and response.owner_user_id is None)
    status, preview = 200, None
    if form.is_submitted() and "preview" in request.form:
        preview = admin.preview_canned(form.body.data, current_user, g.org)
    elif form.validate_on_submit():
        try:
            saved = admin.save_canned_response(membership, title=form.title.data,
                                               body=form.body.data, shared=form.shared.data,
                                               response=response)
        except ServiceError as error:
            show_service_error(form, error)
            status = error.status
        else:
            flash(f"Canned response “{saved.title}” saved.", "success")
            return redirect(url_for("settings.canned"))
    else:
        status = form_status(form)
        if response is not None:
            preview = admin.preview_canned(response.body, current_user, g.org)
    return render_template("helpdesk/settings/canned_form.html", form=form, response=response,
                           preview=preview, is_admin=admin.is_admin(membership),
                           can_manage=admin.can_manage_canned(membership, response)), status


@settings_bp.post("/canned/preview")
@staff_required()
def preview_canned():
    """The live preview of the canned response form (settings.js): plain text."""
    form = forms.PreviewForm()
    if not form.validate_on_submit():
        abort(400, description="Nothing to preview.")
    body = admin.preview_canned(form.body.data, current_user, g.org)
    return body, 200, {"Content-Type": "text/plain; charset=utf-8"}


@settings_bp.post("/canned/<id:canned_id>/delete")
@staff_required()
def delete_canned(canned_id: int):
    response = _canned_or_404(canned_id)
    if EmptyForm().validate_on_submit():
        run_and_flash(lambda: admin.delete_canned_response(current_membership(), response),
               f"Canned response “{response.title}” deleted.")
    return redirect(url_for("settings.canned"))


# Automation rules ------------------------------------------------------------------------------

@settings_bp.get("/rules")
@staff_required(Role.ADMIN)
def rules():
    return render_template("helpdesk/settings/rules.html", rules=admin_rules.list_rules(),
                           value_choices=admin_rules.action_value_choices(),
                           button_form=EmptyForm(), labels=forms.LABELS)


@settings_bp.route("/rules/new", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def new_rule():
    return _rule_page(None)


@settings_bp.route("/rules/<id:rule_id>", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def edit_rule(rule_id: int):
    return _rule_page(get_or_404(AutomationRule, rule_id))


def _rule_page(rule):
    form = forms.RuleForm(obj=rule, match="all" if rule is None or rule.match_all else "any")
    conditions = list(rule.conditions) if rule else []
    actions = list(rule.actions) if rule else []
    row_errors, status = {}, 200
    if form.is_submitted():
        conditions = forms.parse_rows(request.form, "conditions")
        actions = forms.parse_rows(request.form, "actions")
    if form.validate_on_submit():
        try:
            saved = admin_rules.save_rule(name=form.name.data, event=form.event.data,
                                    match_all=form.match.data == "all",
                                    is_active=form.is_active.data, conditions=conditions,
                                    actions=actions, rule=rule)
        except ValidationFailed as error:
            row_errors = {k: v for k, v in error.fields.items() if "." in k or k == "actions"}
            show_service_error(form, ValidationFailed(error.message, {
                k: v for k, v in error.fields.items() if k not in row_errors}))
            status = error.status
        else:
            flash(f"Rule “{saved.name}” saved.", "success")
            return redirect(url_for("settings.rules"))
    else:
        status = form_status(form)
    return render_template("helpdesk/settings/rule_form.html", form=form, rule=rule,
                           conditions=conditions, actions=actions,
                           row_errors=row_errors, value_choices=admin_rules.action_value_choices(),
                           labels=forms.LABELS), status


@settings_bp.post("/rules/<id:rule_id>/move/<any(up, down):direction>")
@staff_required(Role.ADMIN)
def move_rule(rule_id: int, direction: str):
    rule = get_or_404(AutomationRule, rule_id)
    if EmptyForm().validate_on_submit():
        admin_rules.move_rule(rule, OFFSETS[direction])
    return redirect(url_for("settings.rules"))


@settings_bp.post("/rules/<id:rule_id>/<any(enable, disable):state>")
@staff_required(Role.ADMIN)
def switch_rule(rule_id: int, state: str):
    rule = get_or_404(AutomationRule, rule_id)
    if EmptyForm().validate_on_submit():
        admin_rules.set_rule_active(rule, state == "enable")
        flash(f"Rule “{rule.name}” {state}d.", "success")
    return redirect(url_for("settings.rules"))


@settings_bp.post("/rules/<id:rule_id>/delete")
@staff_required(Role.ADMIN)
def delete_rule(rule_id: int):
    rule = get_or_404(AutomationRule, rule_id)
    if EmptyForm().validate_on_submit():
        run_and_flash(lambda: admin_rules.delete_rule(rule), f"Rule “{rule.name}” deleted.")
    return redirect(url_for("settings.rules"))


# Custom fields ---------------------------------------------------------------------------------

@settings_bp.get("/fields")
@staff_required(Role.ADMIN)
def custom_fields():
    return render_template("helpdesk/settings/fields.html", fields=admin.list_custom_fields(),
                           button_form=EmptyForm(), labels=forms.LABELS)


@settings_bp.route("/fields/new", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def new_custom_field():
    return _custom_field_page(None)


@settings_bp.route("/fields/<id:field_id>", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def edit_custom_field(field_id: int):
    return _custom_field_page(get_or_404(CustomField, field_id))


def _custom_field_page(field):
    form = forms.CustomFieldForm(data=field and {
        "label": field.label, "field_type": field.field_type.value,
        "options": "\n".join(field.options)})
    status = 200
    if form.validate_on_submit():
        try:
            saved = admin.save_custom_field(label=form.label.data, field_type=form.field_type.data,
                                            options=form.option_lines(), key=form.key.data,
                                            field=field)
        except ServiceError as error:
            show_service_error(form, error)
            status = error.status
        else:
            flash(f"Field “{saved.label}” saved.", "success")
            return redirect(url_for("settings.custom_fields"))
    else:
        status = form_status(form)
    return render_template("helpdesk/settings/field_form.html", form=form, field=field), status


@settings_bp.post("/fields/<id:field_id>/move/<any(up, down):direction>")
@staff_required(Role.ADMIN)
def move_custom_field(field_id: int, direction: str):
    field = get_or_404(CustomField, field_id)
    if EmptyForm().validate_on_submit():
        admin.move_custom_field(field, OFFSETS[direction])
    return redirect(url_for("settings.custom_fields"))


@settings_bp.post("/fields/<id:field_id>/delete")
@staff_required(Role.ADMIN)
def delete_custom_field(field_id: int):
    field = get_or_404(CustomField, field_id)
    if EmptyForm().validate_on_submit():
        run_and_flash(lambda: admin.delete_custom_field(field), f"Field “{field.label}” deleted.")
    return redirect(url_for("settings.custom_fields"))


# Teams -----------------------------------------------------------------------------------------

def _teams_page(form, rename_errors=None, status: int = 200):
    return render_template("helpdesk/settings/teams.html", teams=admin.list_teams(), form=form,
                           rename_errors=rename_errors or {}, button_form=EmptyForm()), status


@settings_bp.route("/teams", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def teams():
    form = forms.TeamForm()
    if form.validate_on_submit():
        try:
            team = admin.save_team(form.name.data)
        except ServiceError as error:
            show_service_error(form, error)
            return _teams_page(form, status=error.status)
        flash(f"Team “{team.name}” created.", "success")
        return redirect(url_for("settings.teams"))
    return _teams_page(form, status=form_status(form))


@settings_bp.post("/teams/<id:team_id>/rename")
@staff_required(Role.ADMIN)
def rename_team(team_id: int):
    team = get_or_404(Team, team_id)
    form = forms.TeamForm()
    if form.validate_on_submit():
        try:
            admin.save_team(form.name.data, team)
        except ServiceError as error:
            db.session.rollback()
            return _teams_page(forms.TeamForm(formdata=None), {team_id: error.fields.get(
                "name", error.message)}, error.status)
        flash(f"Team renamed to “{team.name}”.", "success")
        return redirect(url_for("settings.teams"))
    return _teams_page(forms.TeamForm(formdata=None), {team_id: " ".join(form.name.errors)},
                       form_status(form))


@settings_bp.post("/teams/<id:team_id>/delete")
@staff_required(Role.ADMIN)
def delete_team(team_id: int):
    team = get_or_404(Team, team_id)
    if EmptyForm().validate_on_submit():
        name = team.name
        moved = admin.delete_team(current_user.id, team)
        flash(f"Team “{name}” deleted." + (f" {moved} ticket(s) now have no team." if moved
                                            else ""), "success")
    return redirect(url_for("settings.teams"))


# Signature and availability (every agent), assignment and org signature (admins) ---------------

@settings_bp.route("/profile", methods=["GET", "POST"])
@staff_required()
def profile():
    membership = current_membership()
    form = forms.SignatureForm(obj=membership)
    status = 200
    if form.validate_on_submit():
        try:
            admin.save_my_signature(membership, form.signature.data)
        except ServiceError as error:
            show_service_error(form, error)
            status = error.status
        else:
            flash("Your signature was saved.", "success")
            return redirect(url_for("settings.profile"))
    else:
        status = form_status(form)
    return render_template("helpdesk/settings/profile.html", form=form, membership=membership,
                           button_form=EmptyForm()), status


@settings_bp.post("/profile/away/<any(on, off):state>")
@staff_required()
def set_away(state: str):
    if EmptyForm().validate_on_submit():
        admin.set_away(current_membership(), state == "on")
        flash("You are marked away: no new tickets are assigned to you." if state == "on"
              else "Welcome back: new tickets can be assigned to you again.", "success")
    return redirect(url_for("settings.profile"))


@settings_bp.route("/assignment", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def assignment():
    settings = g.org.settings
    form = forms.DeskDefaultsForm(assignment=settings.get("assignment", "manual"),
                                  signature=settings.get("signature", ""))
    status = 200
    if form.validate_on_submit():
        try:
            admin.save_desk_defaults(g.org, assignment=form.assignment.data,
                                     signature=form.signature.data)
        except ServiceError as error:
            show_service_error(form, error)
            status = error.status
        else:
            flash("Assignment and organization signature saved.", "success")
            return redirect(url_for("settings.assignment"))
    else:
        status = form_status(form)
    return render_template("helpdesk/settings/assignment.html", form=form,
                           modes=forms.MODE_LABELS), status
