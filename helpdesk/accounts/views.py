"""Signup, login, logout, org picker and password reset (thin: services do the work)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from helpdesk.accounts import bp, services
from helpdesk.accounts.forms import (
    ForgotPasswordForm,
    LoginForm,
    NewOrgForm,
    ResetPasswordForm,
    SignupForm,
)
from helpdesk.accounts.sessions import sign_in, sign_out
from helpdesk.core import tenancy
from helpdesk.core.exceptions import ServiceError
from helpdesk.core.forms import form_status, show_service_error
from helpdesk.orgs import services as org_services


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: never redirect a login to another host."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _after_login_target(user) -> str:
    orgs = org_services.orgs_of_user(user)
    if len(orgs) == 1:
        return url_for("desk.home", org_slug=orgs[0][0].slug)
    return url_for("accounts.pick_org")


@bp.get("/")
def index():
    return render_template("helpdesk/index.html")


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    signed_in = current_user.is_authenticated
    form = NewOrgForm() if signed_in else SignupForm()
    if form.validate_on_submit():
        slug = (form.slug.data or "").strip().lower() or org_services.slugify(form.org_name.data)
        try:
            if signed_in:
                user = current_user
            else:
                user = services.create_user(
                    email=form.email.data, name=form.name.data, password=form.password.data
                )
                tenancy.set_current_user(user.id)
            org = org_services.create_org(name=form.org_name.data, slug=slug, owner=user)
        except ServiceError as error:
            show_service_error(form, error)
        else:
            if not signed_in:
                sign_in(user)
            flash(f"Welcome to {org.name}! Your 14-day trial of the Starter plan has started.",
                  "success")
            return redirect(url_for("desk.home", org_slug=org.slug))
    return render_template("helpdesk/accounts/signup.html", form=form), form_status(form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = _safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or _after_login_target(current_user))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data,
                                         request.remote_addr or "unknown")
        except services.TooManyAttempts as error:
            flash(error.message, "error")
            status = 429
        except services.InvalidCredentials as error:
            flash(error.message, "error")
            status = 401
        else:
            sign_in(user)
            return redirect(next_url or _after_login_target(user))
    status = status if status != 200 else form_status(form)
    return render_template("helpdesk/accounts/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    sign_out()
    flash("You are signed out.", "success")
    next_url = _safe_next(request.form.get("next"))
    return redirect(url_for("accounts.login", next=next_url) if next_url
                    else url_for("accounts.login"))


@bp.get("/orgs")
@login_required
def pick_org():
    return render_template("helpdesk/accounts/pick_org.html",
                           orgs=org_services.orgs_of_user(current_user))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            services.request_password_reset(form.email.data, request.remote_addr or "unknown")
        except services.TooManyAttempts as error:
            flash(error.message, "error")
            return render_template("helpdesk/accounts/forgot.html", form=form), 429
        flash("If an account exists for that address, we have sent it a link to reset the "
              "password. The link works for one hour.", "success")
        return redirect(url_for("accounts.login"))
    return render_template("helpdesk/accounts/forgot.html", form=form), form_status(form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    if services.user_for_reset_token(token) is None:
        abort(404, description="This reset link is invalid, used or expired. Ask for a new one.")
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = services.reset_password(token, form.password.data)
        except ServiceError as error:
            show_service_error(form, error)
        else:
            sign_out()
            sign_in(user)  # every other session of this user was ended by the reset
            flash("Your password is changed.", "success")
            return redirect(_after_login_target(user))
    return render_template("helpdesk/accounts/reset.html", form=form), form_status(form)
