"""Team settings (members, roles, invitations), accepting an invitation, API tokens."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from helpdesk.accounts import services as account_services
from helpdesk.accounts.forms import AcceptInvitationForm
from helpdesk.accounts.sessions import sign_in
from helpdesk.api import services as api_services
from helpdesk.api.models import ApiToken
from helpdesk.core.auth import current_membership, staff_required
from helpdesk.core.exceptions import ServiceError
from helpdesk.core.forms import form_status, show_service_error
from helpdesk.core.views import get_or_404, run_and_flash
from helpdesk.extensions import db
from helpdesk.orgs import bp, services, settings_bp
from helpdesk.orgs.forms import EmptyForm, InviteForm, RoleForm, TokenForm
from helpdesk.orgs.models import Invitation, Membership, Role


def _team_page(invite_form: InviteForm, status: int = 200):
    members = db.session.scalars(select(Membership).order_by(Membership.created_at)).all()
    invitations = db.session.scalars(
        select(Invitation).where(Invitation.accepted_at.is_(None)).order_by(Invitation.created_at)
    ).all()
    return render_template(
        "helpdesk/settings/team.html",
        members=members,
        invitations=invitations,
        invite_form=invite_form,
        role_form=RoleForm(),
        button_form=EmptyForm(),
        seats_used=services.seats_used(g.org),
        can_manage=current_membership().role.rank >= Role.ADMIN.rank,
    ), status


@settings_bp.get("/team")
@staff_required()
def team():
    return _team_page(InviteForm())


@settings_bp.post("/team/invitations")
@staff_required(Role.ADMIN)
def invite():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            services.invite_member(current_membership(), g.org, email=form.email.data,
                                   role=Role(form.role.data))
        except ServiceError as error:
            show_service_error(form, error)
            return _team_page(form, error.status)
        flash(f"Invitation sent to {form.email.data}.", "success")
        return redirect(url_for("settings.team"))
    return _team_page(form, form_status(form))


@settings_bp.post("/team/invitations/<id:invitation_id>/revoke")
@staff_required(Role.ADMIN)
def revoke_invitation(invitation_id: int):
    invitation = get_or_404(Invitation, invitation_id)
    if EmptyForm().validate_on_submit():
        run_and_flash(lambda: services.revoke_invitation(current_membership(), invitation),
                      f"Invitation for {invitation.email} revoked.")
    return redirect(url_for("settings.team"))


@settings_bp.post("/team/members/<id:membership_id>/role")
@staff_required(Role.ADMIN)
def change_role(membership_id: int):
    member = get_or_404(Membership, membership_id)
    form = RoleForm()
    if form.validate_on_submit():
        role = Role(form.role.data)
        run_and_flash(lambda: services.change_role(current_membership(), member, role),
                      f"{member.user.name} is now {role.value}.")
    else:
        flash("Choose one of the listed roles.", "error")
    return redirect(url_for("settings.team"))


@settings_bp.post("/team/members/<id:membership_id>/remove")
@staff_required(Role.ADMIN)
def remove_member(membership_id: int):
    member = get_or_404(Membership, membership_id)
    leaving = member.user_id == current_user.id
    if EmptyForm().validate_on_submit():
        name = member.user.name
        message = f"You left {g.org.name}." if leaving else f"{name} was removed from the team."
        done = run_and_flash(lambda: services.remove_member(current_membership(), member), message)
        if done and leaving:
            return redirect(url_for("accounts.pick_org"))
    return redirect(url_for("settings.team"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    invitation = services.find_invitation(token)
    if invitation is None:
        abort(404, description="This invitation is invalid, used or expired. Ask for a new one.")
    existing = account_services.find_user(invitation.email)
    form = AcceptInvitationForm() if existing is None else EmptyForm()
    if existing is not None and (not current_user.is_authenticated
                                 or current_user.id != existing.id):
        # The invited address already has an account: its owner signs in, then accepts.
        return render_template("helpdesk/accounts/invitation.html", invitation=invitation,
                               form=form, needs_login=True)
    if form.validate_on_submit():
        try:
            user = existing or account_services.create_user(
                email=invitation.email, name=form.name.data, password=form.password.data
            )
            services.accept_invitation(invitation, user)
        except ServiceError as error:
            show_service_error(form, error)
        else:
            sign_in(user)
            flash(f"Welcome to {g.org.name}!", "success")
            return redirect(url_for("desk.home"))
    return render_template("helpdesk/accounts/invitation.html", invitation=invitation,
                           form=form, needs_login=False), form_status(form)


@settings_bp.route("/tokens", methods=["GET", "POST"])
@staff_required()
def tokens():
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        token, new_token = api_services.create_token(current_membership(), form.name.data)
        db.session.flush()
    mine = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == current_user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    ).all()
    return render_template("helpdesk/settings/tokens.html", form=form, tokens=mine,
                           new_token=new_token, button_form=EmptyForm()), form_status(form)


@settings_bp.post("/tokens/<id:token_id>/revoke")
@staff_required()
def revoke_token(token_id: int):
    token = get_or_404(ApiToken, token_id)
    if token.user_id != current_user.id:
        abort(404)
    if EmptyForm().validate_on_submit():
        api_services.revoke_token(token)
        flash(f"Token “{token.name}” revoked.", "success")
    return redirect(url_for("settings.tokens"))
