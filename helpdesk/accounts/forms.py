from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional

from helpdesk.accounts.services import MAX_PASSWORD, MIN_PASSWORD
from helpdesk.core.emails import EmailAddress


def strip(value):
    return value.strip() if isinstance(value, str) else value


EMAIL = [InputRequired("Enter your email address."), Length(max=254),
         EmailAddress()]
NEW_PASSWORD = [InputRequired("Choose a password."),
                Length(min=MIN_PASSWORD, max=MAX_PASSWORD,
                       message=f"Use {MIN_PASSWORD} to {MAX_PASSWORD} characters.")]


class LoginForm(FlaskForm):
    email = EmailField("Email", EMAIL)
    password = PasswordField("Password", [InputRequired("Enter your password."),
                                          Length(max=MAX_PASSWORD)])


class SignupForm(FlaskForm):
    org_name = StringField("Organization name", [DataRequired("Name your organization."),
                                                 Length(max=200)], filters=[strip])
    slug = StringField("Address", [Optional(), Length(max=63)], filters=[strip],
                       description="Your help desk lives at /<address>/. Letters, digits, hyphens.")
    name = StringField("Your name", [DataRequired("Enter your name."), Length(max=200)],
                       filters=[strip])
    email = EmailField("Work email", EMAIL)
    password = PasswordField("Password", NEW_PASSWORD)


class NewOrgForm(FlaskForm):
    """Signup for someone already signed in: only the organization's fields."""

    org_name = SignupForm.org_name
    slug = SignupForm.slug


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", EMAIL)


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", NEW_PASSWORD)
    confirm = PasswordField("Repeat the new password",
                            [InputRequired("Repeat the password."),
                             EqualTo("password", "The two passwords differ.")])


class AcceptInvitationForm(FlaskForm):
    name = StringField("Your name", [DataRequired("Enter your name."), Length(max=200)],
                       filters=[strip])
    password = PasswordField("Choose a password", NEW_PASSWORD)
